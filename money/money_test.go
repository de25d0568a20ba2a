package money_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"keel/money"
)

func TestFormat(t *testing.T) {
	t.Parallel()
	for minor, want := range map[int64]string{
		0: "€0.00", 5: "€0.05", 123450: "€1,234.50", 100000000: "€1,000,000.00", -250: "-€2.50",
	} {
		require.Equal(t, want, money.Format(minor, "EUR"))
	}
	require.Equal(t, "CHF 12.00", money.Format(1200, "CHF"))
}

func TestParse(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"12": 1200, "12.5": 1250, "1,234.56": 123456, "0.05": 5} {
		got, ok := money.Parse(in)
		require.True(t, ok, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "-1", "1.234", "abc", "1.2.3", "1e3", "9999999999999"} {
		_, ok := money.Parse(bad)
		require.False(t, ok, bad)
	}
}
