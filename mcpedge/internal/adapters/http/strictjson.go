package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Member names that Go's encoding/json would also match under Unicode case
// folding, so "Method" or "paramſ" could be read as "method" or "params" by
// one parser and ignored by another.
var (
	envelopeMembers = []string{"jsonrpc", "id", "method", "params", "result", "error"}
	paramsMembers   = []string{"name", "arguments", "uri", "cursor", "_meta", "protocolVersion", "capabilities", "clientInfo"}
)

// checkStrictJSONRPC accepts exactly one JSON-RPC message: a single object,
// not a batch array, with no repeated member name at any depth and no
// envelope or params member that differs from a defined one only by case.
// Two parsers then cannot read the same bytes as different requests.
func checkStrictJSONRPC(body []byte) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return errors.New("empty body: send one JSON-RPC message")
	}
	if trimmed[0] == '[' {
		return errors.New("JSON-RPC batches are not supported: send one message per request")
	}
	if trimmed[0] != '{' {
		return errors.New("the body is not a JSON object: send one JSON-RPC message")
	}

	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	if err := checkValue(dec, "", 0); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("extra data after the JSON-RPC message")
	}
	return nil
}

// checkID rejects an id that JSON-RPC 2.0 does not allow: it must be a
// string, a number or null (section 4), never an object, array or boolean.
func checkID(id json.RawMessage) error {
	if len(id) == 0 {
		return nil
	}
	switch id[0] {
	case '"', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return nil
	}
	return errors.New(`the JSON-RPC "id" must be a string, a number or null`)
}

// maxDepth bounds nesting so a hostile body cannot exhaust the stack.
const maxDepth = 64

func checkValue(dec *json.Decoder, path string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("JSON nesting deeper than %d levels", maxDepth)
	}
	token, err := dec.Token()
	if err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	switch token {
	case json.Delim('{'):
		return checkObject(dec, path, depth)
	case json.Delim('['):
		for dec.More() {
			if err := checkValue(dec, path+"[]", depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	return nil
}

func checkObject(dec *json.Decoder, path string, depth int) error {
	var defined []string
	switch path {
	case "":
		defined = envelopeMembers
	case ".params":
		defined = paramsMembers
	}

	seen := map[string]bool{}
	for dec.More() {
		token, err := dec.Token()
		if err != nil {
			return fmt.Errorf("invalid JSON: %w", err)
		}
		key := token.(string)
		if seen[key] {
			return fmt.Errorf("member %q appears twice in %s", key, describe(path))
		}
		seen[key] = true
		for _, name := range defined {
			if key != name && strings.EqualFold(key, name) {
				return fmt.Errorf("member %q in %s differs from %q only by case", key, describe(path), name)
			}
		}
		if err := checkValue(dec, path+"."+key, depth+1); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

func describe(path string) string {
	if path == "" {
		return "the message"
	}
	return strings.TrimPrefix(path, ".")
}
