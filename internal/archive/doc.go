// Package archive packs a student's uploaded files into one tar.gz and
// unpacks it again into a scratch directory. Every input is untrusted, so
// both directions enforce the same rules.
//
// Names are relative slash-separated paths. Refused, with ErrUnsafePath:
// empty names, absolute paths, ".." elements, NUL and other control
// characters, backslashes, duplicates, a name used both as a file and as a
// directory, and symbolic links, hard links and device entries inside
// archives. Refused with ErrTooLarge: more than Limits.MaxFiles files, a
// file above Limits.MaxFileBytes, more than Limits.MaxTotalBytes in all —
// counted on the decompressed bytes as they are read, so a zip or gzip bomb
// stops at the cap — and a zip whose central directory is larger than the
// 2*Limits.MaxFiles entries it may hold need, read no further. Refused with
// ErrInvalidArchive: input that is not a well-formed zip or tar.gz,
// including a zip whose entries share their compressed data (each would be
// inflated again). The API maps the first and last to 400 and ErrTooLarge
// to 413.
//
// Pack's output is canonical: entries sorted by name, mode 0644, a fixed
// modification time, so the same files always give the same bytes.
package archive
