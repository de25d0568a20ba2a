// Package invoice renders an order's invoice as a PDF. Rendering is a
// pure function of its input, so a retried job renders the same bytes.
package invoice

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

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
func Render(inv Invoice) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.SetCreationDate(inv.Date)
	pdf.SetModificationDate(inv.Date)
	pdf.SetTitle("Invoice "+inv.Number, true)
	pdf.SetAuthor(inv.Seller.Name, true)
	pdf.SetMargins(20, 20, 20)
	pdf.AddPage()

	pdf.SetFont("go", "B", 18)
	pdf.CellFormat(0, 10, inv.Seller.Name, "", 1, "L", false, 0, "")
	pdf.SetFont("go", "", 10)
	for _, l := range append(inv.Seller.Address, inv.Seller.Email) {
		pdf.CellFormat(0, 5, l, "", 1, "L", false, 0, "")
	}
	pdf.Ln(8)

	pdf.SetFont("go", "B", 14)
	pdf.CellFormat(0, 8, "Invoice "+inv.Number, "", 1, "L", false, 0, "")
	pdf.SetFont("go", "", 10)
	pdf.CellFormat(0, 5, "Date: "+inv.Date.UTC().Format("2 January 2006"), "", 1, "L", false, 0, "")
	pdf.CellFormat(0, 5, "Billed to: "+inv.CustomerName+" <"+inv.CustomerEmail+">", "", 1, "L", false, 0, "")
	pdf.Ln(6)

	cols := []struct {
		title string
		width float64
		align string
	}{{"Item", 80, "L"}, {"SKU", 30, "L"}, {"Qty", 15, "R"}, {"Unit", 22, "R"}, {"Amount", 23, "R"}}
	pdf.SetFont("go", "B", 10)
	for _, c := range cols {
		pdf.CellFormat(c.width, 7, c.title, "B", 0, c.align, false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("go", "", 10)
	for _, l := range inv.Lines {
		cells := []string{l.Name, l.SKU, strconv.Itoa(int(l.Quantity)),
			money.Format(l.UnitMinor, inv.Currency), money.Format(l.LineMinor, inv.Currency)}
		for i, c := range cols {
			pdf.CellFormat(c.width, 7, cells[i], "", 0, c.align, false, 0, "")
		}
		pdf.Ln(-1)
	}
	pdf.Ln(3)

	total := func(label, amount string, bold bool) {
		style := ""
		if bold {
			style = "B"
		}
		pdf.SetFont("go", style, 10)
		pdf.CellFormat(147, 7, label, "", 0, "R", false, 0, "")
		pdf.CellFormat(23, 7, amount, "", 1, "R", false, 0, "")
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
