// Package domain holds the rules of DokkuExec without I/O: the values a
// Dokku command may be built from, the encoding of those commands for Dokku's
// SSH forced command, and the parsing of what Dokku prints back.
package domain
