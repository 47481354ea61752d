package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// tlsConfig returns the TLS settings that --cacert, -k, --cert and --key
// ask for, or nil when none of them is given (Go's defaults then apply).
// Its errors are usage errors: they name the flag and the file.
func tlsConfig(cfg *config) (*tls.Config, error) {
	if cfg.caCert == "" && !cfg.insecure && cfg.cert == "" {
		return nil, nil
	}
	tc := &tls.Config{InsecureSkipVerify: cfg.insecure}
	if cfg.caCert != "" {
		pem, err := os.ReadFile(cfg.caCert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %v", err)
		}
		// As curl's --cacert does, the file replaces the system's roots.
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert %s: no PEM certificate in the file", cfg.caCert)
		}
		tc.RootCAs = pool
	}
	if cfg.cert != "" {
		key := cfg.key
		if key == "" {
			key = cfg.cert // one PEM file may hold the certificate and its key
		}
		pair, err := tls.LoadX509KeyPair(cfg.cert, key)
		if err != nil {
			return nil, fmt.Errorf("--cert %s, --key %s: %v", cfg.cert, key, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}
