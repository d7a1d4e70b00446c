// Package texttable prints the CLI's tables: compact, within Columns
// columns, by default (cells of the columns marked as wrappable are word
// wrapped until the table fits), or boxed with every cell on one line for
// --wide.
package texttable
