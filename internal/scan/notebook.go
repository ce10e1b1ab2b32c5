package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Parts of a notebook a finding can be in.
const (
	PartSource      = "source"
	PartOutput      = "output"
	PartMetadata    = "metadata"
	PartAttachments = "attachments"
)

// NotebookPlace says where in a notebook a finding is.
type NotebookPlace struct {
	// Cell is the cell's position, counting from 1; 0 for the notebook's
	// own metadata, outside any cell.
	Cell int `json:"cell"`
	// CellID is the cell's "id" (nbformat 4.5 and later), when it has one.
	CellID string `json:"cell_id,omitempty"`
	// Part is source, output, metadata or attachments.
	Part string `json:"part"`
}

// String is "cell 3 (id a1b2) source", or "notebook metadata".
func (p NotebookPlace) String() string {
	if p.Cell == 0 {
		return "notebook " + p.Part
	}
	id := ""
	if p.CellID != "" {
		id = " (id " + p.CellID + ")"
	}
	return fmt.Sprintf("cell %d%s %s", p.Cell, id, p.Part)
}

// isNotebook reports whether name is a Jupyter notebook by its extension.
func isNotebook(name string) bool {
	return strings.EqualFold(filepath.Ext(name), ".ipynb")
}

// textGroup is one piece of text of a notebook as Jupyter sees it: a
// single JSON string, or an array of strings joined (nbformat's
// "multiline string": a cell's source, an output's text, a MIME bundle's
// value), so a value split over lines is one text.
type textGroup struct {
	strs  []*jnode // the string tokens, in order
	array *jnode   // the array holding strs, when the group is one
	sep   string   // what joins the strings: "" for lines, "\n" for a traceback
	place NotebookPlace
}

// notebookGroups lists the texts of the parsed notebook root.
func notebookGroups(data []byte, root *jnode) []textGroup {
	var gs []textGroup
	cells := root.field(data, "cells")
	for i, k := range root.keys {
		if root.kids[i] == cells {
			continue
		}
		collectGroups(data, k, NotebookPlace{Part: PartMetadata}, "", &gs)
		collectGroups(data, root.kids[i], NotebookPlace{Part: PartMetadata}, "", &gs)
	}
	if cells == nil || cells.kind != 'a' {
		return gs
	}
	for ci, cell := range cells.kids {
		place := NotebookPlace{Cell: ci + 1}
		if id := cell.field(data, "id"); id != nil && id.kind == 's' {
			place.CellID = string(decodeString(nil, data, id.start, id.end))
		}
		if cell.kind != 'o' {
			collectGroups(data, cell, withPart(place, PartMetadata), "", &gs)
			continue
		}
		for i, k := range cell.keys {
			part := PartMetadata
			switch string(data[k.start+1 : k.end-1]) {
			case "source":
				part = PartSource
			case "outputs":
				part = PartOutput
			case "attachments":
				part = PartAttachments
			}
			collectGroups(data, k, withPart(place, PartMetadata), "", &gs)
			collectGroups(data, cell.kids[i], withPart(place, part), "", &gs)
		}
	}
	return gs
}

func withPart(p NotebookPlace, part string) NotebookPlace {
	p.Part = part
	return p
}

// collectGroups appends the texts under n: an array of strings is one
// text (joined with "\n" when it is a "traceback", else with nothing), any
// other string is a text of its own.
func collectGroups(data []byte, n *jnode, place NotebookPlace, sep string, gs *[]textGroup) {
	switch n.kind {
	case 's':
		*gs = append(*gs, textGroup{strs: []*jnode{n}, place: place})
	case 'a':
		if len(n.kids) > 0 && allStrings(n.kids) {
			*gs = append(*gs, textGroup{strs: n.kids, array: n, sep: sep, place: place})
			return
		}
		for _, k := range n.kids {
			collectGroups(data, k, place, "", gs)
		}
	case 'o':
		for i, k := range n.keys {
			collectGroups(data, k, place, "", gs)
			kidSep := ""
			if string(data[k.start+1:k.end-1]) == "traceback" {
				kidSep = "\n"
			}
			collectGroups(data, n.kids[i], place, kidSep, gs)
		}
	}
}

func allStrings(ns []*jnode) bool {
	for _, n := range ns {
		if n.kind != 's' {
			return false
		}
	}
	return true
}

// text appends to dst the group's decoded, joined text, and the offset in
// it at which each string starts.
func (g *textGroup) text(dst, data []byte) ([]byte, []int) {
	starts := make([]int, len(g.strs))
	for i, s := range g.strs {
		if i > 0 {
			dst = append(dst, g.sep...)
		}
		starts[i] = len(dst)
		dst = decodeString(dst, data, s.start, s.end)
	}
	return dst, starts
}

// appendText appends to dst the group's decoded, joined text.
func (g *textGroup) appendText(dst, data []byte) []byte {
	for i, s := range g.strs {
		if i > 0 {
			dst = append(dst, g.sep...)
		}
		dst = decodeString(dst, data, s.start, s.end)
	}
	return dst
}

// fileOffset maps offset d of the group's text to an offset in the file.
func (g *textGroup) fileOffset(data []byte, starts []int, d int) int {
	i := lastAtOrBefore(starts, d)
	s := g.strs[i]
	return rawOffset(data, s.start, s.end, d-starts[i])
}

// lastAtOrBefore returns the index of the last start <= d.
func lastAtOrBefore(starts []int, d int) int {
	i, _ := slices.BinarySearch(starts, d+1)
	return max(i-1, 0)
}

// notebookHit is an occurrence in a notebook: its span in the file and
// where it is.
type notebookHit struct {
	hit
	place NotebookPlace
}

// scanNotebook finds the occurrences in the texts of a parsed notebook and,
// when fix, returns the notebook with each affected text redacted (nil when
// nothing changed).
func (s *Scanner) scanNotebook(data []byte, root *jnode, fix bool) ([]notebookHit, []byte, error) {
	groups := notebookGroups(data, root)
	// One pass of the redactor over every text, separated by a NUL, tells
	// whether there is anything at all (most notebooks): an occurrence in a
	// text is one in the whole. Only then is each text looked at alone.
	var all []byte
	for i := range groups {
		all = groups[i].appendText(all, data)
		all = append(all, 0)
	}
	if bytes.Equal(s.red.Redact(nil, all), all) {
		return nil, nil, nil
	}
	var hits []notebookHit
	var edits []edit
	var text, buf []byte
	for _, g := range groups {
		var starts []int
		text, starts = g.text(text[:0], data)
		var hs []hit
		hs, buf = s.find(text, buf)
		if len(hs) == 0 {
			continue
		}
		for _, h := range hs {
			fs := g.fileOffset(data, starts, h.start)
			fe := g.fileOffset(data, starts, max(h.end-1, h.start)) + 1
			hits = append(hits, notebookHit{hit: hit{start: fs, end: max(fe, fs+1), owners: h.owners, form: h.form}, place: g.place})
		}
		if fix {
			edits = append(edits, g.redactEdit(data, s.red.Redact(nil, text)))
		}
	}
	if !fix || len(edits) == 0 {
		return hits, nil, nil
	}
	fixed := applyEdits(data, edits)
	if json.Valid(data) && !json.Valid(fixed) {
		return hits, nil, fmt.Errorf("the redacted notebook would not be valid JSON: file left unchanged")
	}
	return hits, fixed, nil
}

// edit replaces data[start:end] with repl.
type edit struct {
	start, end int
	repl       []byte
}

// redactEdit is the edit writing the redacted text red in place of the
// group: one string, or an array of lines split as nbformat splits them
// (after each "\n"), separated as the original elements were.
func (g *textGroup) redactEdit(data, red []byte) edit {
	first, last := g.strs[0], g.strs[len(g.strs)-1]
	if g.array == nil {
		return edit{first.start, first.end, appendJSONString(nil, red)}
	}
	var lines [][]byte
	if g.sep == "" {
		lines = bytes.SplitAfter(red, []byte("\n"))
		if len(lines) > 1 && len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
	} else {
		lines = bytes.Split(red, []byte(g.sep))
	}
	between := []byte(", ")
	if len(g.strs) > 1 {
		between = data[g.strs[0].end:g.strs[1].start]
	} else if lead := data[g.array.start+1 : first.start]; len(bytes.TrimSpace(lead)) == 0 {
		between = append([]byte(","), lead...)
	}
	var out []byte
	for i, l := range lines {
		if i > 0 {
			out = append(out, between...)
		}
		out = appendJSONString(out, l)
	}
	return edit{first.start, last.end, out}
}

// applyEdits returns data with the non-overlapping edits applied.
func applyEdits(data []byte, edits []edit) []byte {
	slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
	out := make([]byte, 0, len(data))
	pos := 0
	for _, e := range edits {
		out = append(out, data[pos:e.start]...)
		out = append(out, e.repl...)
		pos = e.end
	}
	return append(out, data[pos:]...)
}
