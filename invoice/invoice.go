// Package invoice renders an order's invoice as a PDF. What it prints
// depends on its input alone (the date included), so a retried job
// renders the same invoice; the bytes may differ, as the PDF library
// lays out its font tables in no fixed order.
package invoice

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/sfnt"

	"keel/money"
)

// Seller is who issues the invoice.
type Seller struct {
	Name    string
	Address []string
	Email   string
}

// Line is one product on the invoice.
type Line struct {
	Name      string
	SKU       string
	Quantity  int32
	UnitMinor int64
	LineMinor int64
}

// Invoice is everything printed on an invoice.
type Invoice struct {
	Number        string
	Date          time.Time
	Seller        Seller
	CustomerName  string
	CustomerEmail string
	Currency      string
	Lines         []Line
	SubtotalMinor int64
	TaxRateBP     int32
	TaxMinor      int64
	TotalMinor    int64
}

// Render returns the invoice as a PDF. It embeds the Go fonts, which
// cover names and currency signs beyond the PDF core fonts' Latin-1.
// Text the fonts cannot draw (emoji, CJK) prints as "?", and text too
// long for its column is cut with "…", so any order renders; amounts
// are never cut, and they and SKUs are set smaller when long.
func Render(inv Invoice) (out []byte, err error) {
	defer func() {
		// fpdf panics on some input; a panic would kill the job's
		// every attempt, so it becomes an error.
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("render invoice %s: %v", inv.Number, r)
		}
	}()
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.SetCreationDate(inv.Date)
	pdf.SetModificationDate(inv.Date)
	pdf.SetTitle("Invoice "+printable(inv.Number), true)
	pdf.SetAuthor(printable(inv.Seller.Name), true)
	pdf.SetMargins(20, 20, 20)
	pdf.AddPage()
	const width = 170 // A4 less the margins

	line := func(style string, size, height float64, text string) {
		pdf.SetFont("go", style, size)
		pdf.CellFormat(0, height, fit(pdf, printable(text), width), "", 1, "L", false, 0, "")
	}
	line("B", 18, 10, inv.Seller.Name)
	for _, l := range append(inv.Seller.Address, inv.Seller.Email) {
		line("", 10, 5, l)
	}
	pdf.Ln(8)
	line("B", 14, 8, "Invoice "+inv.Number)
	line("", 10, 5, "Date: "+inv.Date.UTC().Format("2 January 2006"))
	line("", 10, 5, "Billed to: "+inv.CustomerName)
	line("", 10, 5, inv.CustomerEmail)
	pdf.Ln(6)

	cols := []struct {
		title string
		width float64
		align string
	}{{"Item", 66, "L"}, {"SKU", 26, "L"}, {"Qty", 12, "R"}, {"Unit", 30, "R"}, {"Amount", 36, "R"}}
	pdf.SetFont("go", "B", 10)
	for _, c := range cols {
		pdf.CellFormat(c.width, 7, c.title, "B", 0, c.align, false, 0, "")
	}
	pdf.Ln(-1)
	for _, l := range inv.Lines {
		pdf.SetFont("go", "", 10)
		pdf.CellFormat(cols[0].width, 7, fit(pdf, printable(l.Name), cols[0].width), "", 0, "L", false, 0, "")
		shrink(pdf, "", cols[1].width, fit(pdf, printable(l.SKU), cols[1].width*1.6), "L", 0)
		pdf.CellFormat(cols[2].width, 7, strconv.Itoa(int(l.Quantity)), "", 0, "R", false, 0, "")
		shrink(pdf, "", cols[3].width, money.Format(l.UnitMinor, inv.Currency), "R", 0)
		shrink(pdf, "", cols[4].width, money.Format(l.LineMinor, inv.Currency), "R", 1)
	}
	pdf.Ln(3)

	total := func(label, value string, bold bool) {
		style := ""
		if bold {
			style = "B"
		}
		pdf.SetFont("go", style, 10)
		pdf.CellFormat(width-cols[4].width, 7, label, "", 0, "R", false, 0, "")
		shrink(pdf, style, cols[4].width, value, "R", 1)
	}
	total("Subtotal", money.Format(inv.SubtotalMinor, inv.Currency), false)
	total(fmt.Sprintf("VAT %s%%", strconv.FormatFloat(float64(inv.TaxRateBP)/100, 'f', -1, 64)),
		money.Format(inv.TaxMinor, inv.Currency), false)
	total("Total", money.Format(inv.TotalMinor, inv.Currency), true)

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("render invoice %s: %w", inv.Number, err)
	}
	return buf.Bytes(), nil
}

// shrink prints text in a cell of width w, in a smaller size when it
// would not fit (down to 5 pt), and restores the size: for amounts and
// SKUs, which must not be cut.
func shrink(pdf *fpdf.Fpdf, style string, w float64, text, align string, ln int) {
	size := 10.0
	pdf.SetFont("go", style, size)
	for pdf.GetStringWidth(text) > w-2 && size > 5 {
		size -= .5
		pdf.SetFontSize(size)
	}
	pdf.CellFormat(w, 7, text, "", ln, align, false, 0, "")
	pdf.SetFontSize(10)
}

// fit cuts text to the width of a cell, marking the cut with "…".
func fit(pdf *fpdf.Fpdf, text string, w float64) string {
	if pdf.GetStringWidth(text) <= w-2 {
		return text
	}
	runes := []rune(text)
	for len(runes) > 0 && pdf.GetStringWidth(string(runes)+"…") > w-2 {
		runes = runes[:len(runes)-1]
	}
	return strings.TrimSpace(string(runes)) + "…"
}

// glyphs reports whether the Go fonts can draw a rune.
var glyphs = sync.OnceValue(func() func(rune) bool {
	f, err := sfnt.Parse(goregular.TTF)
	if err != nil {
		panic("invoice: the embedded Go font does not parse: " + err.Error())
	}
	var buf sfnt.Buffer
	var mu sync.Mutex
	return func(r rune) bool {
		if r > 0xFFFF { // beyond what fpdf's font tables hold
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		i, err := f.GlyphIndex(&buf, r)
		return err == nil && i != 0
	}
})

// printable replaces what the fonts cannot draw with "?", and control
// characters with spaces.
func printable(s string) string {
	has := glyphs()
	return strings.Map(func(r rune) rune {
		switch {
		case r < ' ' || r == 0x7f:
			return ' '
		case has(r):
			return r
		default:
			return '?'
		}
	}, s)
}
