package querylist_test

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/witdata/wit/querylist"
)

func ExampleBuilder() {
	b := querylist.NewBuilder(querylist.BuildOptions{MinUnigramCount: 3, MinBigramCount: 3, MinBigramPMI: math.Log(2)})
	b.AddWordNetLemmas([]string{"hot dog", "York"})
	corpus := "I saw New York. New York is big, and New York has a hot dog stand.\nNew York, New York!\n"
	if err := b.AddCorpus(context.Background(), strings.NewReader(corpus)); err != nil {
		fmt.Println(err)
		return
	}
	// WordNet first, then words and word pairs by count; "York" was
	// already there.
	entries, stats := b.Build()
	for _, e := range entries {
		fmt.Printf("%s\t%s\n", e.Text, e.Source)
	}
	fmt.Println("duplicates:", stats.Duplicates)
	// Output:
	// hot dog	wordnet
	// York	wordnet
	// New	unigram
	// New York	bigram
	// duplicates: map[unigram:1]
}
