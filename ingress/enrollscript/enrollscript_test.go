package enrollscript

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const hostileAlias = `Till 3 "; rm -rf / # & del C:\* %PATH% ^|<>!`

func fixedParams(alias string) Params {
	return Params{
		ServerURL:    "https://mdm.example.com",
		EnrollKey:    "nxk_AbCdEf12_" + strings.Repeat("k", 43),
		KeyExpiresAt: time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC),
		Alias:        alias,
		Build: Build{ID: "0b7e3c52-1f7a-4c1e-9a51-6f0d7f6a2b11", Package: "com.nexmdm.agent",
			VersionCode: 42, VersionName: "1.4.2", SHA256: strings.Repeat("ab", 32), Size: 1234567},
	}
}

func render(t *testing.T, kind Kind, alias string) string {
	t.Helper()
	out, err := Render(kind, fixedParams(alias))
	require.NoError(t, err)
	return out
}

func TestEachFormMatchesItsGoldenFile(t *testing.T) {
	for _, kind := range Kinds {
		t.Run(string(kind), func(t *testing.T) {
			got := render(t, kind, hostileAlias)
			path := filepath.Join("testdata", string(kind)+".golden")
			if *update {
				require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./ingress/enrollscript -update to write it")
			assert.Equal(t, string(want), got, "the %s form changed; rerun with -update if that was meant", kind)
		})
	}
}

func TestTheBashFormsAreValidBash(t *testing.T) {
	for _, kind := range []Kind{Bash, BashOneLn} {
		cmd := exec.Command("bash", "-n")
		cmd.Stdin = strings.NewReader(render(t, kind, hostileAlias))
		out, err := cmd.CombinedOutput()
		assert.NoError(t, err, "%s: %s", kind, out)
	}
}

func TestBashQuotingKeepsTheAliasExactlyAsTyped(t *testing.T) {
	for _, alias := range []string{hostileAlias, `"; rm -rf / #`, `& del`, `it's $(reboot) ` + "`id`"} {
		script := render(t, Bash, alias)
		line := regexp.MustCompile(`(?m)^ALIAS=.*$`).FindString(script)
		require.NotEmpty(t, line)
		out, err := exec.Command("bash", "-c", line+`; printf %s "$ALIAS"`).Output()
		require.NoError(t, err)
		assert.Equal(t, alias, string(out))
	}
}

func TestTheCmdFormsNeverHoldTheAliasAsTyped(t *testing.T) {
	for _, alias := range []string{`"; rm -rf / #`, `& del C:\*`, `%PATH%`, `a^b|c<d>e!f`, `x") & calc & ("`} {
		for _, kind := range []Kind{Cmd, CmdOneLn} {
			script := render(t, kind, alias)
			assert.NotContains(t, script, alias, "%s holds the raw alias", kind)
			assert.Contains(t, script, fixedB64(alias), "%s sends the alias base64-encoded", kind)
		}
		shown := displayAlias(alias)
		assert.False(t, strings.ContainsAny(shown, `"%!^&|<>()`), "the printed alias %q has a cmd metacharacter", shown)
	}
}

func fixedB64(alias string) string {
	v, _ := Render(BashOneLn, fixedParams(alias))
	return regexp.MustCompile(`alias_b64=([A-Za-z0-9_-]*)`).FindStringSubmatch(v)[1]
}

func TestTheAliasRoundTripsThroughBase64(t *testing.T) {
	got, err := DecodeAlias(fixedB64(hostileAlias))
	require.NoError(t, err)
	assert.Equal(t, hostileAlias, got)
}

func TestEveryFullFormRunsTheNineStepsInOrder(t *testing.T) {
	for _, kind := range []Kind{Bash, Cmd} {
		script := render(t, kind, "Till 3")
		at := 0
		for _, s := range Steps {
			var marker string
			if kind == Bash {
				marker = fmt.Sprintf("step %d %s", s.N, shQuote(s.Title))
			} else {
				marker = fmt.Sprintf("echo [%d/9] %s", s.N, s.Title)
			}
			i := strings.Index(script[at:], marker)
			require.GreaterOrEqual(t, i, 0, "%s: step %d (%s) missing or out of order", kind, s.N, s.Title)
			at += i + len(marker)
		}
	}
}

func TestEveryFailureIsReachableAndExitsWithItsStepsCode(t *testing.T) {
	sh, cmd := render(t, Bash, "Till 3"), render(t, Cmd, "Till 3")
	for _, f := range Failures() {
		assert.GreaterOrEqual(t, strings.Count(sh, f.Label()), 2, "bash defines %s but never calls it", f.Label())
		assert.Contains(t, sh, f.Label()+"() { fail "+fmt.Sprint(f.Code())+" ", "bash's %s exits %d", f.Label(), f.Code())
		assert.Contains(t, cmd, "goto :"+f.Label(), "cmd never jumps to %s", f.Label())
		block := cmd[strings.Index(cmd, "\r\n:"+f.Label()+"\r\n"):]
		block = block[:strings.Index(block, "goto :abort")]
		assert.Contains(t, block, fmt.Sprintf(`set "RC=%d"`, f.Code()), "cmd's %s exits %d", f.Label(), f.Code())
	}
	assert.NotContains(t, strings.ReplaceAll(cmd, "\r\n", ""), "\n", "cmd lines end in CRLF")
}

func TestTheExitCodesAreTwoToNineOnePerFailingStep(t *testing.T) {
	codes := map[int]int{}
	for _, s := range Steps {
		if s.Code != 0 {
			codes[s.Code]++
		}
	}
	assert.Equal(t, map[int]int{2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1, 8: 1, 9: 1}, codes)
	table := ExitCodes(fixedParams("x"))
	assert.Len(t, table, 10, "0, 1 and 2-9")
	for _, row := range table {
		assert.NotContains(t, row.Fix, "{", "placeholders are filled: %q", row.Fix)
	}
	assert.Equal(t, 0, Steps[5].Code, "bloatware never fails the enrollment")
}

func TestMessagesAvoidWhatCmdCannotQuote(t *testing.T) {
	check := func(what, s string) {
		assert.False(t, strings.ContainsAny(s, `"%!`), "%s %q has a character cmd cannot quote", what, s)
	}
	for _, f := range Failures() {
		check("message", f.Message)
		check("fix", f.Fix)
		for _, h := range f.Hints {
			check("hint", h.Match+h.Fix)
		}
	}
	for _, s := range Steps {
		check("step", s.Title)
	}
	for _, m := range manualSteps {
		check("manual step", m.What+m.Path)
	}
	for _, tw := range tweaks {
		check("tweak", tw.Title+tw.Command)
	}
}

func TestTheShippedBloatwareListParses(t *testing.T) {
	list := DefaultBloatware()
	assert.GreaterOrEqual(t, len(list), 55)
	assert.Contains(t, list, "com.google.android.youtube")
	assert.Contains(t, list, "com.facebook.katana")
	_, err := ParseBloatware("com.ok.app\nrm -rf /\n")
	assert.ErrorContains(t, err, "line 2")
}

func TestAliasesAreCheckedLikeRegistrationChecksThem(t *testing.T) {
	for alias, ok := range map[string]bool{
		"Till 3": true, `"; rm -rf / #`: true, "& del": true, "Kasse Zürich": true,
		"": false, "   ": false, " lead": false, "new\nline": false, strings.Repeat("a", 65): false,
	} {
		assert.Equal(t, ok, CheckAlias(alias) == "", "alias %q", alias)
	}
}

func TestServerURLsMustBeSafeToHoldUnquoted(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://mdm.example.com": true, "http://10.0.0.5:8080": true, "https://example.com/mdm": true,
		"http://[fd00::1]:8080": true, "ftp://x": false, "http://": false, "http://0.0.0.0:8080": false,
		"https://x.com/?a=1&b=2": false, "https://x.com/a b": false, "https://user:pw@x.com": false,
		`https://x.com/"&calc`: false,
	} {
		assert.Equal(t, ok, CheckServerURL(u) == "", "URL %q: %s", u, CheckServerURL(u))
	}
}

func TestRenderRefusesWhatCannotBeQuoted(t *testing.T) {
	p := fixedParams("Till 3")
	p.Build.Package = "com.x; reboot"
	_, err := Render(Bash, p)
	assert.ErrorContains(t, err, "cannot go into a script")
	p = fixedParams("Till 3")
	p.EnrollKey = "dev-admin-key"
	_, err = Render(Cmd, p)
	assert.ErrorContains(t, err, "not an API key")
}

func TestEveryCmdJumpLandsOnALabel(t *testing.T) {
	script := render(t, Cmd, hostileAlias)
	labels := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^:([a-z_]+)\r$`).FindAllStringSubmatch(script, -1) {
		assert.False(t, labels[m[1]], "label %s defined twice", m[1])
		labels[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`(?:goto|call) :([a-z_]+)`).FindAllStringSubmatch(script, -1) {
		assert.True(t, labels[m[1]], "jump to a missing label %s", m[1])
	}
	parens := strings.Count(script, "(") - strings.Count(script, "^(")
	assert.Equal(t, parens, strings.Count(script, ")")-strings.Count(script, "^)"), "unescaped parentheses balance")
}
