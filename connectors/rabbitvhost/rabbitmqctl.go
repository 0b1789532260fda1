package rabbitvhost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// rabbitmqctl runs the broker's command line tool. Every call is one process
// with a timeout, started without a shell by os/exec.
//
// Trap: the Debian/Ubuntu /usr/sbin/rabbitmqctl wrapper, when run as root,
// re-quotes its arguments into `su rabbitmq -c "..."` and so hands them to a
// shell after all (it escapes only double quotes). That is why every argument
// must pass safeArg, why names come from tenant ids only, and why passwords
// travel on standard input, never on the command line (where ps would show
// them as well).
type rabbitmqctl struct {
	path    string
	node    string // -n, empty for the default node
	timeout time.Duration
}

// safeArg is the character set every argument must stay in: letters, digits
// and the punctuation of names, the JSON limit document and the ".*"
// permission patterns — nothing a shell would expand inside double quotes.
var safeArg = regexp.MustCompile(`^[A-Za-z0-9 .,:_()/{}"*-]*$`)

// run executes rabbitmqctl with args (and stdin, if not empty) and returns its
// standard output. A non-zero exit becomes an error carrying the tool's own
// message, which is what an operator needs to see in a failed tenant.
func (c *rabbitmqctl) run(ctx context.Context, stdin string, args ...string) ([]byte, error) {
	for _, a := range args {
		if !safeArg.MatchString(a) {
			// A bug, not bad input: names are derived and input is validated
			// before it gets here.
			return nil, fmt.Errorf("rabbitmqctl: refusing unsafe argument %q", a)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	full := []string{"-q"}
	if c.node != "" {
		full = append(full, "-n", c.node)
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, c.path, full...)
	// The tool may leave an Erlang child holding the pipes after a kill;
	// do not wait for it forever.
	cmd.WaitDelay = 2 * time.Second
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin + "\n")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && err != nil {
		return nil, fmt.Errorf("rabbitmqctl %s: timed out after %s", args[0], c.timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("rabbitmqctl %s: %s", args[0], lastLines(msg, 3))
	}
	return stdout.Bytes(), nil
}

// lastLines keeps the end of a long error output: the Erlang tools print a
// banner first and the reason last.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	var kept []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			kept = append(kept, l)
		}
	}
	if len(kept) > n {
		kept = kept[len(kept)-n:]
	}
	return strings.Join(kept, " ")
}

// list runs a list_* command with the JSON formatter and decodes its rows.
func (c *rabbitmqctl) list(ctx context.Context, rows any, args ...string) error {
	out, err := c.run(ctx, "", append(args, "--formatter", "json")...)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return nil
	}
	if err := json.Unmarshal(out, rows); err != nil {
		return fmt.Errorf("rabbitmqctl %s: unreadable output: %w", args[0], err)
	}
	return nil
}

// vhostExists reports whether the virtual host exists. Creation checks
// first rather than relying on add_vhost being idempotent, which is not
// true of every RabbitMQ version.
func (c *rabbitmqctl) vhostExists(ctx context.Context, vhost string) (bool, error) {
	var rows []struct {
		Name string `json:"name"`
	}
	if err := c.list(ctx, &rows, "list_vhosts", "name"); err != nil {
		return false, err
	}
	for _, r := range rows {
		if r.Name == vhost {
			return true, nil
		}
	}
	return false, nil
}

// userExists reports whether the user exists.
func (c *rabbitmqctl) userExists(ctx context.Context, user string) (bool, error) {
	var rows []struct {
		User string `json:"user"`
	}
	if err := c.list(ctx, &rows, "list_users"); err != nil {
		return false, err
	}
	for _, r := range rows {
		if r.User == user {
			return true, nil
		}
	}
	return false, nil
}

// vhostsWithPrefix lists the virtual hosts whose names start with prefix
// (tests sweep what they created).
func (c *rabbitmqctl) vhostsWithPrefix(ctx context.Context, prefix string) ([]string, error) {
	var rows []struct {
		Name string `json:"name"`
	}
	if err := c.list(ctx, &rows, "list_vhosts", "name"); err != nil {
		return nil, err
	}
	var names []string
	for _, r := range rows {
		if strings.HasPrefix(r.Name, prefix) {
			names = append(names, r.Name)
		}
	}
	return names, nil
}

// usersWithPrefix lists the users whose names start with prefix.
func (c *rabbitmqctl) usersWithPrefix(ctx context.Context, prefix string) ([]string, error) {
	var rows []struct {
		User string `json:"user"`
	}
	if err := c.list(ctx, &rows, "list_users"); err != nil {
		return nil, err
	}
	var names []string
	for _, r := range rows {
		if strings.HasPrefix(r.User, prefix) {
			names = append(names, r.User)
		}
	}
	return names, nil
}

// addVHost creates the virtual host with its description and default queue
// type (both fixed at creation: RabbitMQ 3.10 cannot change them later).
func (c *rabbitmqctl) addVHost(ctx context.Context, vhost, description, queueType string) error {
	args := []string{"add_vhost", vhost}
	if description != "" {
		args = append(args, "--description", description)
	}
	if queueType != "" {
		args = append(args, "--default-queue-type", queueType)
	}
	_, err := c.run(ctx, "", args...)
	return err
}

// deleteVHost deletes the virtual host with its queues and connections.
func (c *rabbitmqctl) deleteVHost(ctx context.Context, vhost string) error {
	_, err := c.run(ctx, "", "delete_vhost", vhost)
	return err
}

// addUser creates a user without tags (no management access).
func (c *rabbitmqctl) addUser(ctx context.Context, user, password string) error {
	_, err := c.run(ctx, password, "add_user", user)
	return err
}

// changePassword sets the user's password.
func (c *rabbitmqctl) changePassword(ctx context.Context, user, password string) error {
	_, err := c.run(ctx, password, "change_password", user)
	return err
}

// deleteUser deletes the user; RabbitMQ closes its connections.
func (c *rabbitmqctl) deleteUser(ctx context.Context, user string) error {
	_, err := c.run(ctx, "", "delete_user", user)
	return err
}

// setLimits sets max-connections and max-queues of the virtual host;
// -1 means no limit, as in the catalog.
func (c *rabbitmqctl) setLimits(ctx context.Context, vhost string, maxConnections, maxQueues int64) error {
	def := fmt.Sprintf(`{"max-connections":%d,"max-queues":%d}`, maxConnections, maxQueues)
	_, err := c.run(ctx, "", "set_vhost_limits", "-p", vhost, def)
	return err
}

// grant gives the user full configure, write and read rights in vhost.
func (c *rabbitmqctl) grant(ctx context.Context, vhost, user string) error {
	_, err := c.run(ctx, "", "set_permissions", "-p", vhost, user, ".*", ".*", ".*")
	return err
}

// revoke clears the user's rights in vhost. RabbitMQ keeps existing
// connections open, so the caller closes them too.
func (c *rabbitmqctl) revoke(ctx context.Context, vhost, user string) error {
	_, err := c.run(ctx, "", "clear_permissions", "-p", vhost, user)
	return err
}

// closeConnections closes every connection of the user, telling the client
// why.
func (c *rabbitmqctl) closeConnections(ctx context.Context, user, reason string) error {
	_, err := c.run(ctx, "", "close_all_user_connections", user, reason)
	return err
}

// queueUsage returns the number of queues in vhost and the messages ready
// for delivery in them.
func (c *rabbitmqctl) queueUsage(ctx context.Context, vhost string) (queues, ready int64, err error) {
	var rows []struct {
		Name          string `json:"name"`
		MessagesReady *int64 `json:"messages_ready"`
	}
	if err := c.list(ctx, &rows, "list_queues", "-p", vhost, "name", "messages_ready"); err != nil {
		return 0, 0, err
	}
	for _, r := range rows {
		queues++
		if r.MessagesReady != nil {
			ready += *r.MessagesReady
		}
	}
	return queues, ready, nil
}
