// Package money formats amounts held in minor units (cents): Keel never
// stores money as floating point.
package money

import (
	"strconv"
	"strings"
)

var symbols = map[string]string{"EUR": "€", "GBP": "£", "USD": "$"}

// Format writes an amount of minor units of a two-decimal currency,
// with its symbol and thousands separators: Format(123450, "EUR") is
// "€1,234.50".
func Format(minor int64, currency string) string {
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	whole := strconv.FormatInt(minor/100, 10)
	var b strings.Builder
	for i, d := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	cents := strconv.FormatInt(minor%100+100, 10)[1:]

	symbol, ok := symbols[currency]
	if !ok {
		symbol = currency + " "
	}
	return sign + symbol + b.String() + "." + cents
}

// Parse reads an amount typed by staff ("1234.5", "1,234.50") as minor
// units; ok is false for anything else, negative amounts included.
func Parse(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", "")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || len(whole) > 12 {
		return 0, false
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil || w < 0 || f < 0 {
		return 0, false
	}
	return w*100 + f, true
}
