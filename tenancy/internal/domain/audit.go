package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// GenesisHash is the prev_hash of a tenant's first audit event.
var GenesisHash = strings.Repeat("0", 64)

// hashVersion is the first field of every canonical encoding, so that a
// later encoding cannot produce the same bytes for different events.
const hashVersion = "dokkumcp.audit.v1"

// auditTimeLayout writes times in UTC at microsecond precision, the
// precision PostgreSQL stores.
const auditTimeLayout = "2006-01-02T15:04:05.000000Z"

// maxAuditFieldLength bounds each text field of an event in bytes, except
// arguments, which maxAuditArgumentsLength bounds.
const (
	maxAuditFieldLength     = 1024
	maxAuditArgumentsLength = 64 * 1024
)

// AuditEvent is one entry of a tenant's audit ledger.
type AuditEvent struct {
	TenantID  string
	Seq       int64
	Time      time.Time
	Subject   string
	ClientID  string
	Actor     string
	Operation string
	Target    string
	// Arguments is a compact JSON object whose secrets the caller redacted.
	Arguments string
	Result    string
	LatencyMS int64
	TraceID   string
	PrevHash  string
	Hash      string
}

// NewAuditEvent validates an event before it is appended: Seq, PrevHash
// and Hash are set by Chain. A zero time becomes now.
func NewAuditEvent(e AuditEvent, now time.Time) (*AuditEvent, error) {
	if err := ValidateTenantID(e.TenantID); err != nil {
		return nil, err
	}
	if e.Operation == "" {
		return nil, invalid("operation is missing: give the RPC or tool name, for example dokkuexec.apps.create")
	}
	if e.Result == "" {
		return nil, invalid(`result is missing: give "ok" or the error code`)
	}
	if e.LatencyMS < 0 {
		return nil, invalid("latency_ms %d is invalid: use 0 or more", e.LatencyMS)
	}
	fields := map[string]string{"subject": e.Subject, "client_id": e.ClientID, "actor": e.Actor, "operation": e.Operation,
		"target": e.Target, "result": e.Result, "trace_id": e.TraceID}
	for name, value := range fields {
		if len(value) > maxAuditFieldLength {
			return nil, invalid("%s is longer than %d bytes: shorten it", name, maxAuditFieldLength)
		}
	}

	arguments, err := compactArguments(e.Arguments)
	if err != nil {
		return nil, err
	}
	e.Arguments = arguments
	if e.Time.IsZero() {
		e.Time = now
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.Seq, e.PrevHash, e.Hash = 0, "", ""
	return &e, nil
}

func compactArguments(text string) (string, error) {
	if strings.TrimSpace(text) == "" {
		return "{}", nil
	}
	if len(text) > maxAuditArgumentsLength {
		return "", invalid("arguments_json is longer than %d bytes: leave out large values", maxAuditArgumentsLength)
	}
	var object map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &object); err != nil {
		return "", invalid("arguments_json is not a JSON object: send the redacted arguments as an object, or leave it empty")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(text)); err != nil {
		return "", invalid("arguments_json is not a JSON object: send the redacted arguments as an object, or leave it empty")
	}
	return compact.String(), nil
}

// Chain makes e the successor of the event with seq prevSeq and hash
// prevHash (0 and GenesisHash for a tenant's first event) and seals it.
func (e *AuditEvent) Chain(prevSeq int64, prevHash string) {
	e.Seq = prevSeq + 1
	e.PrevHash = prevHash
	e.Hash = e.ComputeHash()
}

// ComputeHash returns the lower-case hex SHA-256 of the event's canonical
// encoding: the fields below in this order, each written as its length in
// bytes (8 bytes, big-endian) followed by its UTF-8 bytes. Seq and
// latency_ms are written in decimal, time as auditTimeLayout in UTC.
func (e *AuditEvent) ComputeHash() string {
	fields := []string{
		hashVersion,
		e.TenantID,
		strconv.FormatInt(e.Seq, 10),
		e.Time.UTC().Format(auditTimeLayout),
		e.Subject,
		e.ClientID,
		e.Actor,
		e.Operation,
		e.Target,
		e.Arguments,
		e.Result,
		strconv.FormatInt(e.LatencyMS, 10),
		e.TraceID,
		e.PrevHash,
	}
	h := sha256.New()
	var length [8]byte
	for _, f := range fields {
		binary.BigEndian.PutUint64(length[:], uint64(len(f)))
		h.Write(length[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ChainVerifier checks a tenant's events one by one in seq order.
type ChainVerifier struct {
	checked  int64
	prevHash string
}

// NewChainVerifier returns a verifier that expects seq 1 next.
func NewChainVerifier() *ChainVerifier {
	return &ChainVerifier{prevHash: GenesisHash}
}

// Checked returns the number of events that passed.
func (v *ChainVerifier) Checked() int64 { return v.checked }

// Check returns "" when e continues the chain, or the reason it breaks it.
func (v *ChainVerifier) Check(e *AuditEvent) string {
	want := v.checked + 1
	switch {
	case e.Seq != want:
		return "seq " + strconv.FormatInt(e.Seq, 10) + " follows seq " + strconv.FormatInt(v.checked, 10) + ": events are missing"
	case e.PrevHash != v.prevHash:
		return "prev_hash does not match the hash of seq " + strconv.FormatInt(v.checked, 10)
	case e.ComputeHash() != e.Hash:
		return "hash does not match the event's fields: the event was changed after it was appended"
	}
	v.checked, v.prevHash = e.Seq, e.Hash
	return ""
}

// AuditFilter selects events. Zero fields match every event.
type AuditFilter struct {
	Start time.Time
	// End is exclusive.
	End time.Time
	// Principal matches the subject or the actor.
	Principal string
	Operation string
	Result    string
}
