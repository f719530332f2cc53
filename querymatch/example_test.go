package querymatch_test

import (
	"fmt"

	"github.com/witdata/wit/querymatch"
)

func Example() {
	m, err := querymatch.New([]string{"dog", "hot dog", "New York", "U.S.", "cat"}, nil, querymatch.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Whole words only, in order of first occurrence (a longer entry after a
	// shorter one at the same word); brackets are not spaced, so "(cat)" is
	// not "cat".
	for _, id := range m.MatchIDs("A hot dog, in New York, U.S. (cat)", nil) {
		fmt.Println(m.Entry(id))
	}
	// Output:
	// hot dog
	// dog
	// New York
	// U.S.
}
