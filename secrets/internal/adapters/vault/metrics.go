package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Operations label the request duration histogram.
const (
	opSign   = "sign"
	opLogin  = "login"
	opRenew  = "renew"
	opReadCA = "read_ca"
)

// Metrics records Vault client metrics. The zero value records nothing.
type Metrics struct {
	duration metric.Float64Histogram
	up       metric.Int64Gauge
	expiry   metric.Float64Gauge
}

// NewMetrics creates the Vault client instruments on meter:
//   - dokkumcp_secrets_vault_request_duration_seconds (histogram; operation, outcome)
//   - dokkumcp_secrets_vault_up (1 after a request Vault answered below 500, 0 after a transport failure or a 5xx)
//   - dokkumcp_secrets_vault_token_expiry_timestamp_seconds (Unix time the current token expires)
func NewMetrics(meter metric.Meter) (*Metrics, error) {
	duration, err := meter.Float64Histogram("dokkumcp_secrets_vault_request_duration_seconds",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of Secrets' Vault requests by operation (sign, login, renew, read_ca, read_key, write_key, list_keys) and outcome (ok, error)."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
	if err != nil {
		return nil, err
	}
	up, err := meter.Int64Gauge("dokkumcp_secrets_vault_up",
		metric.WithDescription("1 when Secrets' last Vault request got an answer below 500, 0 after a transport failure or a 5xx."))
	if err != nil {
		return nil, err
	}
	expiry, err := meter.Float64Gauge("dokkumcp_secrets_vault_token_expiry_timestamp_seconds",
		metric.WithUnit("s"),
		metric.WithDescription("Unix time at which Secrets' current Vault token expires; absent for a token without expiry."))
	if err != nil {
		return nil, err
	}
	return &Metrics{duration: duration, up: up, expiry: expiry}, nil
}

func (m *Metrics) orNoop() *Metrics {
	if m != nil {
		return m
	}
	meter := noop.NewMeterProvider().Meter("")
	duration, _ := meter.Float64Histogram("")
	up, _ := meter.Int64Gauge("")
	expiry, _ := meter.Float64Gauge("")
	return &Metrics{duration: duration, up: up, expiry: expiry}
}

func (m *Metrics) observe(op string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.duration.Record(context.Background(), time.Since(start).Seconds(),
		metric.WithAttributes(attribute.String("operation", op), attribute.String("outcome", outcome)))
}

func (m *Metrics) setExpiry(expiry time.Time) {
	m.expiry.Record(context.Background(), float64(expiry.UnixMilli())/1000)
}

// meteredTransport sets the up gauge after every HTTP attempt, retries
// included, and times token renewals, which the api client's
// LifetimeWatcher sends without passing through this package's calls.
type meteredTransport struct {
	base    http.RoundTripper
	metrics *Metrics
}

func (t *meteredTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)

	reachable := err == nil && resp.StatusCode < http.StatusInternalServerError
	up := int64(0)
	if reachable {
		up = 1
	}
	t.metrics.up.Record(context.Background(), up)

	if strings.HasSuffix(req.URL.Path, "/auth/token/renew-self") {
		var renewErr error
		if err != nil || resp.StatusCode >= http.StatusBadRequest {
			renewErr = errors.New("renewal failed")
		}
		t.metrics.observe(opRenew, start, renewErr)
	}
	return resp, err
}

// wrapTransport installs a meteredTransport in client.
func wrapTransport(client *http.Client, metrics *Metrics) error {
	if client == nil || client.Transport == nil {
		return fmt.Errorf("the Vault client has no HTTP transport to instrument")
	}
	client.Transport = &meteredTransport{base: client.Transport, metrics: metrics}
	return nil
}
