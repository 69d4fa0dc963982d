// Package doclinks checks the repository's documentation: README.md stays a
// front door of at most 250 lines, every relative link in README.md and
// docs/*.md names a file that exists, and every #anchor a heading of that
// file (as GitHub derives anchors from headings). It has no code of its own;
// the checks are its tests, which make test runs with the unit tests.
package doclinks
