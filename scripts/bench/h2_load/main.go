// h2_load drives the webhook the way kube-apiserver does: TokenReview POSTs over a single
// HTTP/2 connection (the token webhook's client, k8s.io/apiserver's NewGenericWebhook, keeps
// HTTP/2 on; only the admission and conversion webhooks are forced to HTTP/1.1), with
// -concurrency requests in flight as concurrent streams. Each request takes the next token of
// -tokens, each worker starting at its own offset and stepping by the number of workers, so no
// token is sent twice until the file runs out (as the wrk script of `deno task bench:server`
// does). It prints one JSON object: requests, rate, p50/p99 latency in ms, non-2xx answers,
// errors, connections opened, and its own CPU time in microseconds.
//
// A benchmark peer of scripts/bench_server.ts (`--client h2`), not part of the product.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	Requests    int     `json:"requests"`
	Rps         float64 `json:"rps"`
	P50         float64 `json:"p50"`
	P99         float64 `json:"p99"`
	Non2xx      int     `json:"non2xx"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	Connections int64   `json:"connections"`
	Protocol    string  `json:"protocol"`
	CPUMicros   int64   `json:"cpuMicros"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "h2_load: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	url := flag.String("url", "", "the webhook URL (https)")
	caFile := flag.String("ca", "", "PEM file of the server's certificate or its CA")
	tokenFile := flag.String("tokens", "", "one token per line")
	concurrency := flag.Int("concurrency", 64, "requests in flight (HTTP/2 streams)")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	flag.Parse()
	if *url == "" || *caFile == "" || *tokenFile == "" {
		fail("-url, -ca and -tokens are required")
	}
	pem, err := os.ReadFile(*caFile)
	if err != nil {
		fail("%v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		fail("no certificate in %s", *caFile)
	}
	f, err := os.Open(*tokenFile)
	if err != nil {
		fail("%v", err)
	}
	var bodies [][]byte
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64*1024), 64*1024)
	for scanner.Scan() {
		if t := scanner.Text(); t != "" {
			bodies = append(bodies, []byte(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"`+t+`"}}`))
		}
	}
	f.Close()
	if len(bodies) == 0 {
		fail("no tokens in %s", *tokenFile)
	}

	transport := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		ForceAttemptHTTP2: true,
		// One connection, as kube-apiserver's webhook client keeps; more only if the server's
		// stream limit is reached.
		MaxConnsPerHost: 1,
	}
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	var connections atomic.Int64
	trace := &httptrace.ClientTrace{
		ConnectDone: func(string, string, error) { connections.Add(1) },
	}
	ctx := httptrace.WithClientTrace(context.Background(), trace)

	var mu sync.Mutex
	latencies := make([]float64, 0, 1<<16)
	var non2xx, errs int
	firstError := ""
	protocol := ""
	deadline := time.Now().Add(*duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			local := make([]float64, 0, 4096)
			for i := w; time.Now().Before(deadline); i += *concurrency {
				req, _ := http.NewRequestWithContext(ctx, "POST", *url, bytes.NewReader(bodies[i%len(bodies)]))
				req.Header.Set("Content-Type", "application/json")
				t := time.Now()
				res, err := client.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				ms := float64(time.Since(t).Microseconds()) / 1000
				mu.Lock()
				if err != nil {
					errs++
					if firstError == "" {
						firstError = err.Error()
					}
				} else {
					protocol = res.Proto
					if res.StatusCode < 200 || res.StatusCode > 299 {
						non2xx++
					}
				}
				mu.Unlock()
				if err == nil {
					local = append(local, ms)
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	sort.Float64s(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(float64(len(latencies))*p))]
	}
	var usage syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	cpu := (usage.Utime.Sec+usage.Stime.Sec)*1_000_000 + int64(usage.Utime.Usec+usage.Stime.Usec)
	out, _ := json.Marshal(result{
		Requests:    len(latencies) + errs,
		Rps:         float64(len(latencies)) / elapsed,
		P50:         pct(0.50),
		P99:         pct(0.99),
		Non2xx:      non2xx,
		Errors:      errs,
		FirstError:  firstError,
		Connections: connections.Load(),
		Protocol:    protocol,
		CPUMicros:   cpu,
	})
	fmt.Println(string(out))
}
