package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/marketplane/marketplane"
)

// An endpoint's URL is fetched by the server, from inside its network, so
// a URL that names an internal address would let any account with an
// endpoint probe that network or read the cloud's metadata service
// (server-side request forgery). Endpoints are checked twice: their URL
// when they are made or changed (CheckURL, for a clear error then), and
// every address a delivery connects to (NewClient), because a name may
// resolve to another address by the time of the delivery (DNS rebinding).

// cgnat is the carrier-grade NAT range (RFC 6598), internal to a provider's
// network and not covered by netip's IsPrivate.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// ErrInternalAddress is the error of a delivery refused at dial time.
var ErrInternalAddress = errors.New("webhook endpoints may not reach internal addresses")

// Internal tells whether ip is an address a webhook may not reach:
// loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 with the
// cloud metadata service, fe80::/10), unspecified, multicast or CGNAT
// (100.64/10). An IPv4-mapped IPv6 address counts as its IPv4 address.
func Internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || cgnat.Contains(ip)
}

// Lookup resolves a host name to its addresses (net.Resolver.LookupNetIP
// with network "ip" in production).
type Lookup func(ctx context.Context, host string) ([]netip.Addr, error)

// lookupTimeout bounds the resolution of CheckURL: a name that does not
// answer in time is let through, and the delivery's dial checks it.
const lookupTimeout = 3 * time.Second

// CheckURL refuses (EINVALID on field "url") the URL of an endpoint that
// reaches an internal address: an IP literal that is Internal, "localhost"
// (and names below it), or a name that lookup resolves to an internal
// address. A name that does not resolve is accepted: it may resolve later,
// and the delivery's dial checks the address it gets then. lookup nil
// means net.DefaultResolver. It checks the URL's form as Validate does
// too, so that it may run first.
func CheckURL(ctx context.Context, raw string, lookup Lookup) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return urlError("must be an absolute http or https URL")
	}
	if u.User != nil {
		return urlError("must not carry a user name or password: put credentials in the path or check the signature")
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		if Internal(ip) {
			return urlError(fmt.Sprintf("%s is an internal address (loopback, private, link-local, multicast or unspecified); webhooks go to public addresses", ip))
		}
		return nil
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return urlError(host + " is this server; webhooks go to public addresses")
	}
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := lookup(ctx, host)
	if err != nil {
		return nil // see above: the dial checks it
	}
	for _, ip := range addrs {
		if Internal(ip) {
			return urlError(fmt.Sprintf("%s resolves to %s, an internal address; webhooks go to public addresses", host, ip.Unmap()))
		}
	}
	return nil
}

func urlError(msg string) error {
	var f marketplane.FieldErrors
	f.Add("url", msg)
	return f.Err("webhook endpoint")
}

// Dialer is the dialer of deliveries: with allowPrivate false it refuses,
// after resolution and before connecting, any internal address
// (ErrInternalAddress). allowPrivate is for development and tests, whose
// receivers listen on 127.0.0.1.
func Dialer(allowPrivate bool) *net.Dialer {
	d := &net.Dialer{Timeout: Timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("webhook: dial %s: %w", address, err)
			}
			if Internal(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrInternalAddress, ap.Addr().Unmap())
			}
			return nil
		}
	}
	return d
}

// NewClient is the HTTP client of deliveries: it dials through Dialer,
// ignores proxy settings (a proxy would make the dial check look at the
// proxy's address, not the endpoint's), and gives up after Timeout.
// Redirects are followed, and each one's connection is checked too.
func NewClient(allowPrivate bool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = Dialer(allowPrivate).DialContext
	return &http.Client{Transport: t, Timeout: Timeout}
}
