package app

import (
	"context"

	"go.opentelemetry.io/otel/metric"
)

// Measure exports dokkumcp_identity_signing_key_newest_created_timestamp_seconds
// on meter: the Unix time the newest stored signing key was created, read
// from the keys this replica has loaded at each scrape. Scheduled rotation
// keeps it younger than --key-rotation-interval; an older value means
// rotation is failing.
func (k *SigningKeys) Measure(meter metric.Meter) error {
	gauge, err := meter.Float64ObservableGauge("dokkumcp_identity_signing_key_newest_created_timestamp_seconds",
		metric.WithUnit("s"),
		metric.WithDescription("Unix time at which the newest signing key was created."))
	if err != nil {
		return err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		k.mu.Lock()
		view := newKeyView(k.stored, k.now(), k.schedule.Retention)
		k.mu.Unlock()
		if newest := view.newestCreateTime(); !newest.IsZero() {
			o.ObserveFloat64(gauge, float64(newest.UnixNano())/1e9)
		}
		return nil
	}, gauge)
	return err
}
