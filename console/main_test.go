package console_test

import (
	"testing"

	"github.com/flowd-dev/flowd/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
