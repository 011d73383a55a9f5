package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/idsync/idsync/connector"
	"github.com/idsync/idsync/internal/peers"
)

// benchConcurrency is the number of requests in flight in both benchmarks.
const benchConcurrency = 4

// BenchmarkExportAdds adds b.N users through the connector (one Export
// call, concurrency 4) to a fresh scimmy server. Compare with
// BenchmarkRawPOST: the target is at least 0.8× its throughput.
func BenchmarkExportAdds(b *testing.B) {
	srv := peers.SCIM(b)
	c := newConn(b, srv, func(c *Config) { c.Concurrency = benchConcurrency })
	if err := c.TestConnection(context.Background()); err != nil {
		b.Fatal(err)
	}
	ops := make([]connector.ExportOp, b.N)
	for i := range ops {
		u := fmt.Sprintf("bench%07d", i)
		ops[i] = addUser("p-"+u, u, set("displayName", "Bench "+u), set("active", "true"))
	}
	b.ResetTimer()
	res := c.Export(context.Background(), ops)
	b.StopTimer()
	for _, r := range res {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "adds/s")
}

// BenchmarkRawPOST posts b.N users with a plain HTTP client, concurrency 4,
// to a fresh scimmy server: the ceiling for BenchmarkExportAdds.
func BenchmarkRawPOST(b *testing.B) {
	srv := peers.SCIM(b)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 2 * benchConcurrency
	hc := &http.Client{Transport: tr}
	defer tr.CloseIdleConnections()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, benchConcurrency)
	b.ResetTimer()
	for range benchConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				u := fmt.Sprintf("bench%07d", i)
				body, _ := json.Marshal(map[string]any{"schemas": []string{CoreUser}, "userName": u, "externalId": "p-" + u, "displayName": "Bench " + u, "active": true})
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/Users", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+srv.Token)
				req.Header.Set("Content-Type", "application/scim+json")
				resp, err := hc.Do(req)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					errs <- fmt.Errorf("POST: %s", resp.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "adds/s")
}
