// Package tlsroots builds the certificate pool HTTPS connectors verify
// servers with: the system's roots plus an optional CA file.
package tlsroots

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Pool returns the system's root certificates (an empty pool where the
// system has none) with the PEM certificates of caFile added ("": none).
func Pool(caFile string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("caFile: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("caFile %s: no PEM certificate in it", caFile)
	}
	return pool, nil
}
