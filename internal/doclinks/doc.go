// Package doclinks checks the repository's documentation: every relative link
// in README.md and docs/*.md must name a file that exists, and every #anchor
// a heading of that file (as GitHub derives anchors from headings). It has no
// code of its own; the check is its test, which make test runs with the unit
// tests.
package doclinks
