package invoice

import (
	"time"

	"golang.org/x/text/language"

	"github.com/marketplane/marketplane/store"
)

// labels are the words of a document in one language. The buyer's locale
// picks them (language matching: de-AT reads German, fr-CH French), and
// English is the fallback.
type labels struct {
	// Lang is the BCP 47 tag of the language, for <html lang>.
	Lang string

	Titles   map[store.DocumentType]string
	Document string // the title of a type without its own
	Statuses map[store.DocumentStatus]string

	Number, Issued, Due, Status, Currency string
	From, To, VATID                       string

	Description, Period, Quantity, Amount string
	// Net heads the amount column when the lines carry tax: their amounts
	// are before tax.
	Net string
	// TaxName is the tax's short name: "Tax", "USt.", "TVA".
	TaxName, TaxRate string

	Gross, NetTotal, TaxTotal, Total, Paid, AmountDue string

	ReverseCharge string
	PaidBy        string // "Paid by %s."

	Payment string // heading of how to pay
	// PayBy is "Please pay AMOUNT by DAY (N days net), quoting NUMBER …";
	// PayOnReceipt the same for an invoice due the day it is issued.
	PayBy, PayOnReceipt string
	Contact             string // "Questions about this invoice: %s"

	Page string // "%s · page %d of %s"

	// date renders a day.
	date func(t time.Time) string
	// percentSep goes between a rate and its "%".
	percentSep string
}

var english = &labels{
	Lang: "en",
	Titles: map[store.DocumentType]string{
		store.DocInvoice: "Invoice", store.DocCreditMemo: "Credit memo", store.DocPayment: "Payment receipt",
		store.DocRefund: "Refund", store.DocAdjustment: "Adjustment",
	},
	Document: "Document",
	Statuses: map[store.DocumentStatus]string{store.DocOpen: "Open", store.DocPaid: "Paid", store.DocVoid: "Void"},
	Number:   "Number", Issued: "Issued", Due: "Due", Status: "Status", Currency: "Currency",
	From: "From", To: "To", VATID: "VAT ID",
	Description: "Description", Period: "Period", Quantity: "Qty", Amount: "Amount", Net: "Net",
	// "Tax", not "VAT": English buyers include those of sales-tax
	// countries.
	TaxName: "Tax", TaxRate: "Rate",
	Gross: "Gross", NetTotal: "Net total", TaxTotal: "Tax", Total: "Total", Paid: "Paid", AmountDue: "Amount due",
	ReverseCharge: "Reverse charge: VAT to be accounted for by the recipient.",
	PaidBy:        "Paid by %s.",
	Payment:       "Payment",
	PayBy:         "Please pay %s by %s (%d days net), quoting %s as the payment reference.",
	PayOnReceipt:  "Please pay %s on receipt, quoting %s as the payment reference.",
	Contact:       "Questions about this document: %s",
	Page:          "%s · page %d of %s",
	date:          func(t time.Time) string { return t.Format("2 Jan 2006") },
	percentSep:    "\u00a0",
}

var german = &labels{
	Lang: "de",
	Titles: map[store.DocumentType]string{
		store.DocInvoice: "Rechnung", store.DocCreditMemo: "Gutschrift", store.DocPayment: "Zahlungsbestätigung",
		store.DocRefund: "Erstattung", store.DocAdjustment: "Korrekturbeleg",
	},
	Document: "Beleg",
	Statuses: map[store.DocumentStatus]string{store.DocOpen: "Offen", store.DocPaid: "Bezahlt", store.DocVoid: "Storniert"},
	Number:   "Nummer", Issued: "Datum", Due: "Fällig am", Status: "Status", Currency: "Währung",
	From: "Von", To: "An", VATID: "USt-IdNr.",
	Description: "Beschreibung", Period: "Zeitraum", Quantity: "Menge", Amount: "Betrag", Net: "Netto",
	TaxName: "USt.", TaxRate: "Satz",
	Gross: "Brutto", NetTotal: "Summe netto", TaxTotal: "USt.", Total: "Gesamtbetrag", Paid: "Bezahlt", AmountDue: "Offener Betrag",
	ReverseCharge: "Steuerschuldnerschaft des Leistungsempfängers (Reverse Charge).",
	PaidBy:        "Bezahlt per %s.",
	Payment:       "Zahlung",
	PayBy:         "Bitte zahlen Sie %s bis zum %s (%d Tage netto) unter Angabe von %s als Verwendungszweck.",
	PayOnReceipt:  "Bitte zahlen Sie %s sofort nach Erhalt unter Angabe von %s als Verwendungszweck.",
	Contact:       "Fragen zu diesem Beleg: %s",
	Page:          "%s · Seite %d von %s",
	date:          func(t time.Time) string { return t.Format("02.01.2006") },
	percentSep:    "\u00a0",
}

var french = &labels{
	Lang: "fr",
	Titles: map[store.DocumentType]string{
		store.DocInvoice: "Facture", store.DocCreditMemo: "Avoir", store.DocPayment: "Reçu de paiement",
		store.DocRefund: "Remboursement", store.DocAdjustment: "Régularisation",
	},
	Document: "Document",
	Statuses: map[store.DocumentStatus]string{store.DocOpen: "Ouverte", store.DocPaid: "Payée", store.DocVoid: "Annulée"},
	Number:   "Numéro", Issued: "Date", Due: "Échéance", Status: "Statut", Currency: "Devise",
	From: "Émetteur", To: "Destinataire", VATID: "N° TVA",
	Description: "Désignation", Period: "Période", Quantity: "Qté", Amount: "Montant", Net: "Montant HT",
	TaxName: "TVA", TaxRate: "Taux",
	Gross: "TTC", NetTotal: "Total HT", TaxTotal: "TVA", Total: "Total TTC", Paid: "Payé", AmountDue: "Reste à payer",
	ReverseCharge: "Autoliquidation : TVA due par le preneur.",
	PaidBy:        "Payé par %s.",
	Payment:       "Paiement",
	PayBy:         "Merci de régler %s avant le %s (%d jours net) en indiquant %s comme référence de paiement.",
	PayOnReceipt:  "Merci de régler %s dès réception en indiquant %s comme référence de paiement.",
	Contact:       "Pour toute question sur ce document : %s",
	Page:          "%s · page %d sur %s",
	date:          func(t time.Time) string { return t.Format("02/01/2006") },
	percentSep:    "\u00a0",
}

// languages are the languages documents are written in, English first:
// the matcher answers the first when nothing matches.
var languages = []*labels{english, german, french}

var matcher = language.NewMatcher([]language.Tag{language.English, language.German, language.French})

// labelsFor picks the language of a buyer's locale (BCP 47).
func labelsFor(locale string) *labels {
	tag, err := language.Parse(locale)
	if err != nil {
		return english
	}
	_, i, conf := matcher.Match(tag)
	if conf == language.No {
		return english
	}
	if l := languages[i]; l != english {
		return l
	}
	// English dates name the month, "10 Jan 2027", which no reader
	// misreads as 01/10 and 10/01 are; in the United States the month
	// comes first.
	if r, _ := tag.Region(); r == us {
		l := *english
		l.date = func(t time.Time) string { return t.Format("Jan 2, 2006") }
		return &l
	}
	return english
}

var us = language.MustParseRegion("US")

// day renders a ledger day; "" for none.
func (l *labels) day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return l.date(t)
}

// title names a document type.
func (l *labels) title(t store.DocumentType) string {
	if s, ok := l.Titles[t]; ok {
		return s
	}
	return l.Document
}
