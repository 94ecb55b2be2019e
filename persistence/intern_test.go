package persistence

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

func TestInternedStringsShareOneCopy(t *testing.T) {
	fromBytes := Intern([]byte("k-2026-intern-a"))
	fromString := InternString(strings.Clone("k-2026-intern-a"))
	assert.Equal(t, "k-2026-intern-a", fromString)
	assert.Equal(t, unsafe.StringData(fromBytes), unsafe.StringData(fromString), "one copy, compared by pointer")
	assert.Equal(t, "", InternString(""))
}
