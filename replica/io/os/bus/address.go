package bus

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"viewstamp/replica/vsr"
)

// Address defaults, TigerBeetle's: a bare port means this host, a bare host
// the default port.
const (
	DefaultHost = "127.0.0.1"
	DefaultPort = 3001
)

// ParseAddresses reads a comma-separated replica address list the way
// TigerBeetle's --addresses does: "host:port", a bare "port"
// (DefaultHost:port) or a bare "host" (host:DefaultPort); IPv6 hosts in
// brackets. At most vsr.ReplicasMax, no duplicates.
func ParseAddresses(list string) ([]string, error) {
	parts := strings.Split(list, ",")
	if len(parts) > vsr.ReplicasMax {
		return nil, fmt.Errorf("%d addresses, at most %d", len(parts), vsr.ReplicasMax)
	}
	out := make([]string, 0, len(parts))
	seen := map[string]bool{}
	for i, p := range parts {
		a, err := parseAddress(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("address %d %q: %w", i, p, err)
		}
		if seen[a] {
			return nil, fmt.Errorf("address %d %q: listed twice", i, p)
		}
		seen[a] = true
		out = append(out, a)
	}
	return out, nil
}

func parseAddress(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty")
	}
	if isPort(s) {
		port, err := checkPort(s)
		if err != nil {
			return "", err
		}
		return net.JoinHostPort(DefaultHost, port), nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a bare host, possibly a bracketed IPv6 literal.
		host = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && !strings.HasPrefix(s, "[")) {
			return "", fmt.Errorf("IPv6 hosts go in brackets")
		}
		return net.JoinHostPort(host, strconv.Itoa(DefaultPort)), nil
	}
	if host == "" {
		return "", fmt.Errorf("no host")
	}
	if port, err = checkPort(port); err != nil {
		return "", err
	}
	return net.JoinHostPort(host, port), nil
}

func isPort(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func checkPort(s string) (string, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return "", fmt.Errorf("port %q is not in 1..65535", s)
	}
	return strconv.FormatUint(n, 10), nil
}
