package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// unwrapParse keeps the useful part of a strconv or time error: the
// library's own wording repeats the input and the function name.
func unwrapParse(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return fmt.Errorf("%q is not a valid number", ne.Num)
	}
	if _, msg, ok := strings.Cut(err.Error(), "time: "); ok {
		return errors.New(msg + ` (want a duration such as "30s" or "15m")`)
	}
	return err
}

func required(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("must not be empty")
	}
	return nil
}

func optional(s string, check func(string) error) error {
	if s == "" {
		return nil
	}
	return check(s)
}

func oneOf(s string, allowed ...string) error {
	if slices.Contains(allowed, s) {
		return nil
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(allowed, ", "))
}

func between(n, lo, hi int) error {
	if n < lo || n > hi {
		return fmt.Errorf("%d is outside %d to %d", n, lo, hi)
	}
	return nil
}

func positive(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s is not a positive duration", d)
	}
	return nil
}

func atLeast(d, floor time.Duration, floorKey string) error {
	if d < floor {
		return fmt.Errorf("%s is shorter than %s (%s)", d, floorKey, floor)
	}
	return nil
}

func hostPort(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q has no valid port", s)
	}
	return nil
}

func httpURL(s string) error {
	return schemeURL(s, "http", "https")
}

// postgresURL accepts a postgres:// URL naming a server by host, or, as
// libpq does, a folder holding its Unix socket in the host parameter
// (postgres://keel@/keel?host=/run/postgresql): a server on the same
// machine answers faster over its socket than over TCP.
func postgresURL(s string) error {
	u, err := url.Parse(s)
	// Without "//" the driver reads the text as key=value settings.
	authority := strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
	if err != nil || u.Host != "" || !authority {
		return schemeURL(s, "postgres", "postgresql")
	}
	// One folder, named whole: a second host would be the one the
	// driver dials.
	if hosts := u.Query()["host"]; len(hosts) != 1 || !strings.HasPrefix(hosts[0], "/") || strings.Contains(hosts[0], ",") {
		return fmt.Errorf("%q names no server: give a host, or a socket folder as ?host=/folder", redact(s))
	}
	return nil
}

func schemeURL(s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("%q is not a %s:// URL", redact(s), schemes[0])
	}
	return nil
}

// redact hides a password inside a URL before it is printed.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

func mailbox(s string) error {
	if _, err := mail.ParseAddress(s); err != nil {
		return fmt.Errorf("%q is not an email address", s)
	}
	return nil
}

// ByteSize parses sizes such as "64KB" or "10MB" (powers of 1024).
func ByteSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}}

	upper := strings.ToUpper(strings.TrimSpace(s))
	for _, u := range units {
		num, ok := strings.CutSuffix(upper, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n <= 0 {
			break
		}
		return n * u.mult, nil
	}
	return 0, fmt.Errorf("%q is not a size such as 64KB or 10MB", s)
}

func byteSize(s string) error {
	_, err := ByteSize(s)
	return err
}

func parsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.ParsePrefix(s)
}

func prefixes(list []string) error {
	for _, s := range list {
		if _, err := parsePrefix(s); err != nil {
			return fmt.Errorf("%q is not an IP address or CIDR range", s)
		}
	}
	return nil
}

// parseTaxRate reads a percentage with up to two decimals ("20",
// "7.5") as basis points.
func parseTaxRate(s string) (int32, error) {
	whole, frac, _ := strings.Cut(strings.TrimSpace(s), ".")
	if len(frac) > 2 {
		return 0, fmt.Errorf("%q has more than two decimals", s)
	}
	frac += strings.Repeat("0", 2-len(frac))
	w, err1 := strconv.Atoi(whole)
	f, err2 := strconv.Atoi(frac)
	if err1 != nil || err2 != nil || w < 0 || w > 100 || (w == 100 && f > 0) {
		return 0, fmt.Errorf("%q is not a percentage between 0 and 100", s)
	}
	return int32(w*100 + f), nil //nolint:gosec // G115: at most 10000, checked above.
}

func taxRate(s string) error {
	_, err := parseTaxRate(s)
	return err
}
