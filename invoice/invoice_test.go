package invoice_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"keel/invoice"
)

// pdfText extracts the text of a PDF with pdftotext.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	cmd := exec.Command("pdftotext", "-layout", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	out, err := cmd.Output()
	require.NoError(t, err, "pdftotext is needed; scripts/tools.sh --test installs poppler-utils")
	return string(out)
}

func sample() invoice.Invoice {
	return invoice.Invoice{
		Number: "2026-000042", Date: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC),
		Seller:       invoice.Seller{Name: "Keel Services", Address: []string{"1 Harbour Street"}, Email: "hello@keel.localhost"},
		CustomerName: "Zoë Łukasiewicz", CustomerEmail: "zoe@example.com", Currency: "EUR",
		Lines: []invoice.Line{
			{Name: "Café crème service", SKU: "CAFE-1", Quantity: 2, UnitMinor: 12345, LineMinor: 24690},
		},
		SubtotalMinor: 24690, TaxRateBP: 2000, TaxMinor: 4938, TotalMinor: 29628,
	}
}

func TestRender(t *testing.T) {
	t.Parallel()
	pdf, err := invoice.Render(sample())
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(pdf, []byte("%PDF-")))
	text := pdfText(t, pdf)
	for _, want := range []string{
		"Invoice 2026-000042", "4 December 2026", "Billed to: Zoë Łukasiewicz", "zoe@example.com",
		"Café crème service", "CAFE-1", "€123.45", "€246.90", "VAT 20%", "€49.38", "€296.28",
	} {
		require.Contains(t, text, want)
	}

	again, err := invoice.Render(sample())
	require.NoError(t, err)
	require.Equal(t, text, pdfText(t, again), "the same invoice prints the same")
}

// Whatever a customer or a product name holds, the invoice renders:
// what the fonts cannot draw prints as "?", long text is cut to its
// column, and the largest amounts print whole.
func TestRenderAnyText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*invoice.Invoice)
		want   []string
	}{
		{"Emoji", func(i *invoice.Invoice) { i.CustomerName = "Zoë 😀 Smile" }, []string{"Billed to: Zoë ? Smile"}},
		{"MathLetters", func(i *invoice.Invoice) { i.Lines[0].Name = "𝕬𝖇𝖈 Gothic" }, []string{"??? Gothic"}},
		{"CJK", func(i *invoice.Invoice) { i.CustomerName = "山田太郎" }, []string{"Billed to: ????"}},
		{"ControlCharacters", func(i *invoice.Invoice) { i.CustomerName = "Tab\there\x00" }, []string{"Tab here"}},
		{"LongName", func(i *invoice.Invoice) { i.Lines[0].Name = strings.Repeat("Very long product name ", 10) }, []string{"Very long product name Very long pro…", "€246.90"}},
		{"HugeAmounts", func(i *invoice.Invoice) {
			i.Lines[0].Quantity, i.Lines[0].UnitMinor, i.Lines[0].LineMinor = 100, 100_000_000, 10_000_000_000
			i.SubtotalMinor, i.TaxMinor, i.TotalMinor = 500_000_000_000, 100_000_000_000, 600_000_000_000
		}, []string{"€1,000,000.00", "€100,000,000.00", "€6,000,000,000.00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inv := sample()
			tt.change(&inv)
			pdf, err := invoice.Render(inv)
			require.NoError(t, err)
			text := pdfText(t, pdf)
			for _, want := range tt.want {
				require.Contains(t, text, want)
			}
		})
	}
}
