package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssekit/sse/ssetest"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ssecat test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a certificate signed by the CA, for a server on 127.0.0.1
// or for a client, with its key, both PEM encoded.
func (ca *testCA) issue(t *testing.T, name string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// serveTLS starts a TLS test server for h, over HTTP/2 or HTTP/1.1, and
// returns it with the path of a file that holds its certificate, for
// --cacert.
func serveTLS(t *testing.T, h http.Handler, http2 bool) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = http2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, certFile(t, srv)
}

// certFile writes the certificate of srv, a TLS test server, to a PEM file
// and returns its path.
func certFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	return writeFile(t, t.TempDir(), "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
}

// writeFile writes b to a file named name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// protoServer is a TLS test server, HTTP/2 or HTTP/1.1, that sends one
// event and ends the stream. It records the protocol and the client
// certificate's name of each request.
type protoServer struct {
	*httptest.Server
	mu            sync.Mutex
	proto, client string // of the last request
}

// last returns the protocol and client certificate name of the last
// request, and forgets them.
func (ps *protoServer) last() (proto, client string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	proto, client, ps.proto, ps.client = ps.proto, ps.client, "", ""
	return proto, client
}

func startTLSServer(t *testing.T, http2 bool, tc *tls.Config) *protoServer {
	t.Helper()
	ps := &protoServer{}
	events := ssetest.Responder(func(*http.Request) ssetest.Response {
		return ssetest.Response{Steps: []ssetest.Step{ssetest.Write("id: 1\ndata: secure\n\n")}}
	})
	ps.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			name = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		ps.mu.Lock()
		ps.proto, ps.client = r.Proto, name
		ps.mu.Unlock()
		events.ServeHTTP(w, r)
	}))
	ps.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point of some tests
	ps.EnableHTTP2 = http2
	ps.TLS = tc
	ps.StartTLS()
	t.Cleanup(ps.Close)
	return ps
}

// protocols are the two HTTP versions TLS tests run over.
var protocols = []struct {
	name  string
	http2 bool
	proto string
}{{"HTTP/1.1", false, "HTTP/1.1"}, {"HTTP/2", true, "HTTP/2.0"}}

func TestTLSServerCertificate(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			srv := startTLSServer(t, p.http2, nil)
			dir := t.TempDir()
			caFile := certFile(t, srv.Server)
			notPEM := writeFile(t, dir, "not.pem", []byte("hello"))
			const event = `{"type":"message","data":"secure","id":"1","last_event_id":"1","time":T}` + "\n"
			const warning = "ssecat: warning: -k: the server's certificate is not verified\n"
			tests := []struct {
				name   string
				args   []string
				code   int
				stdout string
				stderr string
			}{
				{"untrusted", nil, 1, "", "ssecat: cannot verify the server's certificate: " +
					"x509: certificate signed by unknown authority (--cacert FILE trusts its CA, -k skips the check)\n"},
				{"cacert", []string{"--cacert", caFile}, 0, event, "ssecat: stream ended by the server\n"},
				{"-k", []string{"-k"}, 0, event, warning + "ssecat: stream ended by the server\n"},
				{"--insecure", []string{"--insecure"}, 0, event, warning + "ssecat: stream ended by the server\n"},
				{"cacert not PEM", []string{"--cacert", notPEM}, 2, "", "ssecat: --cacert " + notPEM + ": no PEM certificate in the file\n"},
				{"cacert missing", []string{"--cacert", dir + "/none.pem"}, 2, "",
					"ssecat: --cacert: open " + dir + "/none.pem: no such file or directory\n"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					args := append([]string{"--json", "--max-retries", "0"}, tt.args...)
					r := runCommand(t, command(t, append(args, srv.URL)...))
					stdout := timeField.ReplaceAllString(r.stdout, `"time":T`)
					if r.code != tt.code || stdout != tt.stdout || r.stderr != tt.stderr {
						t.Errorf("ssecat %q: exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q",
							tt.args, r.code, stdout, r.stderr, tt.code, tt.stdout, tt.stderr)
					}
					if proto, _ := srv.last(); tt.code == 0 && proto != p.proto {
						t.Errorf("server saw %q; want %s", proto, p.proto)
					}
				})
			}
		})
	}
}

func TestTLSClientCertificate(t *testing.T) {
	ca := newTestCA(t)
	serverCert, serverKey := ca.issue(t, "127.0.0.1", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.issue(t, "ssecat-client", x509.ExtKeyUsageClientAuth)
	pair, err := tls.X509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)

	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", ca.pem)
	certFile := writeFile(t, dir, "client.pem", clientCert)
	keyFile := writeFile(t, dir, "client.key", clientKey)
	bothFile := writeFile(t, dir, "client-and-key.pem", append(append([]byte(nil), clientCert...), clientKey...))

	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			srv := startTLSServer(t, p.http2, &tls.Config{
				Certificates: []tls.Certificate{pair},
				ClientAuth:   tls.RequireAndVerifyClientCert,
				ClientCAs:    pool,
				// In TLS 1.3 the client's handshake ends before the server
				// checks its certificate, so a refusal reaches it as an
				// alert, a reset or a broken pipe, whichever comes first;
				// in TLS 1.2 it always comes as an alert, in the handshake.
				MaxVersion: tls.VersionTLS12,
			})
			for _, tc := range []struct {
				name string
				args []string
			}{
				{"cert and key", []string{"--cert", certFile, "--key", keyFile}},
				{"one file", []string{"--cert", bothFile}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					args := append([]string{"--json", "--max-retries", "0", "--cacert", caFile}, tc.args...)
					r := runCommand(t, command(t, append(args, srv.URL)...))
					if r.code != 0 || !strings.Contains(r.stdout, `"data":"secure"`) {
						t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 and the event", r.code, r.stdout, r.stderr)
					}
					if proto, client := srv.last(); proto != p.proto || client != "ssecat-client" {
						t.Errorf("server saw %q with client certificate %q; want %s with ssecat-client", proto, client, p.proto)
					}
				})
			}
			t.Run("no client certificate", func(t *testing.T) {
				r := runCommand(t, command(t, "--json", "--max-retries", "0", "--cacert", caFile, srv.URL))
				want := "ssecat: the server refused the TLS connection: tls: handshake failure\n"
				if r.code != 1 || r.stdout != "" || r.stderr != want {
					t.Errorf("exit %d, stdout %q, stderr %q; want exit 1, no stdout, stderr %q", r.code, r.stdout, r.stderr, want)
				}
			})
		})
	}
	t.Run("key without cert", func(t *testing.T) {
		r := runCommand(t, command(t, "--key", keyFile, "https://127.0.0.1:1/"))
		if want := "ssecat: --key needs --cert\n"; r.code != 2 || !strings.HasPrefix(r.stderr, want) {
			t.Errorf("exit %d, stderr %q; want exit 2 and %q first", r.code, r.stderr, want)
		}
	})
}
