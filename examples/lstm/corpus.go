package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"unicode"
)

// Corpus is a word-level corpus split by verse (line) into training,
// validation and test token streams over a vocabulary built from the
// training split only.
type Corpus struct {
	Words []string       // id → word
	IDs   map[string]int // word → id
	Train []int
	Valid []int
	Test  []int
}

// Reserved tokens: <eos> ends every verse, <unk> stands for words the
// training split never saw.
const (
	eosToken = "<eos>"
	unkToken = "<unk>"
)

// readBible runs Debian's `bible` (package bible-kjv) for the whole King
// James Bible and returns one verse per line with the verse numbers and
// chapter headings removed.
func readBible() ([]string, error) {
	out, err := exec.Command("bible", "-l", "100000", "gen1:1-rev22:21").Output()
	if err != nil {
		return nil, fmt.Errorf("lstm: running `bible` (install Debian's bible-kjv, or pass -text FILE): %w", err)
	}
	return verses(bytes.NewReader(out))
}

// verses keeps the lines that start (after spaces) with a verse number and
// strips that number.
func verses(r io.Reader) ([]string, error) {
	var lines []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) || s[i] != ' ' {
			continue
		}
		lines = append(lines, strings.TrimSpace(s[i:]))
	}
	return lines, sc.Err()
}

// readTextFile returns the non-empty lines of a text file.
func readTextFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lstm: %w", err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			lines = append(lines, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("lstm: %s: %w", path, err)
	}
	return lines, nil
}

// tokenize lower-cases a line and splits it into words and punctuation
// tokens: "Let there be light:" → [let there be light :].
func tokenize(line string) []string {
	var toks []string
	var word []rune
	flush := func() {
		if len(word) > 0 {
			toks = append(toks, string(word))
			word = word[:0]
		}
	}
	for _, r := range strings.ToLower(line) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'':
			word = append(word, r)
		case unicode.IsSpace(r):
			flush()
		default:
			flush()
			toks = append(toks, string(r))
		}
	}
	flush()
	return toks
}

// newCorpus splits lines 90/5/5 by index, builds the vocabulary from the
// training lines (sorted by frequency, then alphabetically, so ids are
// deterministic) and encodes every split, each line ending in <eos>.
func newCorpus(lines []string) (*Corpus, error) { return newCorpusVocab(lines, 0) }

// newCorpusVocab is newCorpus keeping only the maxVocab−2 most frequent
// training words (plus <eos> and <unk>; the rest become <unk>);
// maxVocab ≤ 0 keeps every word.
func newCorpusVocab(lines []string, maxVocab int) (*Corpus, error) {
	if maxVocab > 0 && maxVocab < 3 {
		return nil, fmt.Errorf("lstm: a vocabulary of %d words cannot hold <eos>, <unk> and a word", maxVocab)
	}
	if len(lines) < 20 {
		return nil, fmt.Errorf("lstm: the corpus has %d lines; need at least 20", len(lines))
	}
	nTrain := len(lines) * 90 / 100
	nValid := len(lines) * 5 / 100
	trainLines, validLines, testLines := lines[:nTrain], lines[nTrain:nTrain+nValid], lines[nTrain+nValid:]
	counts := map[string]int{}
	for _, l := range trainLines {
		for _, t := range tokenize(l) {
			counts[t]++
		}
	}
	words := make([]string, 0, len(counts)+2)
	for w := range counts {
		words = append(words, w)
	}
	sort.Slice(words, func(i, j int) bool {
		if counts[words[i]] != counts[words[j]] {
			return counts[words[i]] > counts[words[j]]
		}
		return words[i] < words[j]
	})
	if maxVocab > 0 && len(words) > maxVocab-2 {
		words = words[:maxVocab-2]
	}
	words = append([]string{eosToken, unkToken}, words...)
	c := &Corpus{Words: words, IDs: make(map[string]int, len(words))}
	for i, w := range words {
		c.IDs[w] = i
	}
	c.Train = c.encode(trainLines)
	c.Valid = c.encode(validLines)
	c.Test = c.encode(testLines)
	return c, nil
}

func (c *Corpus) encode(lines []string) []int {
	var ids []int
	unk := c.IDs[unkToken]
	for _, l := range lines {
		for _, t := range tokenize(l) {
			id, ok := c.IDs[t]
			if !ok {
				id = unk
			}
			ids = append(ids, id)
		}
		ids = append(ids, c.IDs[eosToken])
	}
	return ids
}

// batchify lays a token stream out as bsz parallel columns, as PyTorch's
// word_language_model does: the result is T×bsz, row-major, with the
// stream's tail that does not fill a row dropped.
func batchify(ids []int, bsz int) (data []int, steps int) {
	steps = len(ids) / bsz
	data = make([]int, steps*bsz)
	for b := 0; b < bsz; b++ {
		for t := 0; t < steps; t++ {
			data[t*bsz+b] = ids[b*steps+t]
		}
	}
	return data, steps
}
