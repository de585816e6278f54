package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"dokkumcp.dev/identity/internal/app"
	"dokkumcp.dev/platform/telemetry"
)

// FakeBlockedLedger holds every append until release is closed, the fault
// of a Tenancy that stops responding, which a real Tenancy cannot produce on
// demand.
type FakeBlockedLedger struct {
	release chan struct{}

	mu       sync.Mutex
	appended []app.AuditEvent
}

func (f *FakeBlockedLedger) AppendAuditEvent(ctx context.Context, event app.AuditEvent) error {
	select {
	case <-f.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appended = append(f.appended, event)
	return nil
}

func (f *FakeBlockedLedger) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.appended)
}

// droppedByReason reads dokkumcp_audit_append_failures_total from reader.
func droppedByReason(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "dokkumcp_audit_append_failures" {
				continue
			}
			for _, point := range m.Data.(metricdata.Sum[int64]).DataPoints {
				reason, _ := point.Attributes.Value("reason")
				out[reason.AsString()] += point.Value
			}
		}
	}
	return out
}

func TestAuditorBoundsQueueAndClients(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	metrics, err := telemetry.NewAuditMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	ledger := &FakeBlockedLedger{release: make(chan struct{})}
	auditor := app.NewAuditor(ledger, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics)

	// Far more failures than the queue holds, from many clients, while
	// Tenancy does not respond: Record must return at once every time.
	const clients, perClient = 200, 30
	for c := range clients {
		for range perClient {
			auditor.Record(context.Background(), app.AuditEvent{TenantID: "t-aaaaaaaaaa", ClientID: fmt.Sprintf("c-%03d", c), Operation: app.OperationToken, Result: "invalid_client"})
		}
	}
	dropped := droppedByReason(t, reader)
	if dropped["queue_full"] == 0 {
		t.Errorf("queue_full drops = 0, want > 0 after %d events into a blocked queue; drops: %v", clients*perClient, dropped)
	}
	if want := int64(clients * (perClient - 20)); dropped["rate_limited"] != want {
		t.Errorf("rate_limited drops = %d, want %d (each client keeps a burst of 20)", dropped["rate_limited"], want)
	}

	close(ledger.release)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	auditor.Close(ctx)
	if got, want := int64(ledger.count())+dropped["queue_full"], int64(clients*20); got != want {
		t.Errorf("appended %d + dropped for a full queue %d = %d, want %d admitted events", ledger.count(), dropped["queue_full"], got, want)
	}
}

// FakeDownLedger fails every append, as Tenancy does when it is down.
type FakeDownLedger struct{}

func (FakeDownLedger) AppendAuditEvent(context.Context, app.AuditEvent) error {
	return errors.New("tenancy unavailable")
}

func TestAuditorRecordSyncReturnsFailure(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	metrics, err := telemetry.NewAuditMetrics(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test"))
	if err != nil {
		t.Fatal(err)
	}
	auditor := app.NewAuditor(FakeDownLedger{}, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics)
	defer auditor.Close(context.Background())

	if err := auditor.RecordSync(context.Background(), app.AuditEvent{TenantID: "t-aaaaaaaaaa", Operation: app.OperationCreateClient}); err == nil {
		t.Fatal("RecordSync returned nil for a failed append")
	}
	if got := droppedByReason(t, reader)["append_failed"]; got != 1 {
		t.Errorf("append_failed drops = %d, want 1", got)
	}
}
