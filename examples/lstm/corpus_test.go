package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	got := tokenize("And God said, Let there be light: and there was LIGHT.")
	want := []string{"and", "god", "said", ",", "let", "there", "be", "light", ":", "and", "there", "was", "light", "."}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
}

func TestVersesStripsNumbersAndHeadings(t *testing.T) {
	in := "\nGenesis 1\n\n  1 In the beginning.\n  2 And the earth.\nGenesis 2\n 10 Thus.\n"
	got, err := verses(strings.NewReader(in))
	if err != nil || !reflect.DeepEqual(got, []string{"In the beginning.", "And the earth.", "Thus."}) {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestCorpusSplitsAndUnknowns(t *testing.T) {
	lines := make([]string, 40)
	for i := range lines {
		lines[i] = "a b a"
	}
	lines[39] = "zebra a"
	c, err := newCorpus(lines)
	if err != nil {
		t.Fatal(err)
	}
	if c.Words[0] != eosToken || c.Words[1] != unkToken || c.Words[2] != "a" || c.Words[3] != "b" {
		t.Fatalf("vocabulary %q", c.Words)
	}
	if len(c.Train) != 36*4 || len(c.Valid) != 2*4 {
		t.Fatalf("split sizes %d %d %d", len(c.Train), len(c.Valid), len(c.Test))
	}
	if c.Test[len(c.Test)-3] != c.IDs[unkToken] {
		t.Fatalf("zebra should be <unk> in the test split: %v", c.Test)
	}
	if _, err := newCorpus(lines[:5]); err == nil {
		t.Fatal("tiny corpus accepted")
	}
}

func TestBatchify(t *testing.T) {
	data, steps := batchify([]int{0, 1, 2, 3, 4, 5, 6}, 2)
	if steps != 3 || !reflect.DeepEqual(data, []int{0, 3, 1, 4, 2, 5}) {
		t.Fatalf("got %v, %d", data, steps)
	}
}
