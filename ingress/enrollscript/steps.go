package enrollscript

import "strings"

// Step is one of the nine enrollment steps, in order.
type Step struct {
	N     int
	Title string
	Code  int // the exit code when the step fails; 0: it never fails
}

// Steps are the enrollment, in the order every form runs them.
var Steps = []Step{
	{1, "Wait for device", 2},
	{2, "Download APK", 3},
	{3, "Install APK", 4},
	{4, "Set Device Owner", 5},
	{5, "Grant permissions", 6},
	{6, "Disable bloatware", 0},
	{7, "Apply system tweaks", 7},
	{8, "Launch app and send configuration", 8},
	{9, "Verify service and registration", 9},
}

// prerequisiteCode is the exit code when adb or curl is missing, before
// step 1 starts.
const prerequisiteCode = 1

// Failure is one way a step can fail: what the script prints and the fix
// it suggests. Output names the work file holding the failed command's
// output; Hints pick a more specific fix from it.
type Failure struct {
	Key     string // e.g. install.failed; the scripts' label for it
	Step    int    // 0: a prerequisite
	Message string
	Fix     string
	Output  string // work file with the command's output; "": none
	Hints   []Hint
}

// Hint is a fix for a failure whose output contains Match.
type Hint struct{ Match, Fix string }

// Code is the failure's exit code.
func (f Failure) Code() int {
	if f.Step == 0 {
		return prerequisiteCode
	}
	return Steps[f.Step-1].Code
}

// Label is the failure's name in script labels and function names.
func (f Failure) Label() string { return "fail_" + strings.ReplaceAll(f.Key, ".", "_") }

// failures lists every failure point. {PKG}, {ADMIN}, {RECEIVER},
// {ACTION}, {SERVER} and {EXPIRES} are filled in from the script's
// parameters. Fix texts avoid double quotes and percent signs, which no
// cmd quoting survives (a test holds them to it).
var failures = []Failure{
	{Key: "prereq.adb", Message: "adb was not found",
		Fix: "install Android platform-tools from developer.android.com/tools/releases/platform-tools and put adb on PATH, or set ADB to its full path"},
	{Key: "prereq.curl", Message: "curl was not found",
		Fix: "install curl (Windows 10 1803 and later have it built in; on Debian or Ubuntu: apt install curl)"},
	{Key: "device.absent", Step: 1, Message: "no device appeared",
		Fix: "connect the device with a data USB cable and turn on Settings > System > Developer options > USB debugging"},
	{Key: "device.unauthorized", Step: 1, Message: "the device has not authorised this computer",
		Fix: "unlock the device and accept the Allow USB debugging prompt (tick Always allow); no prompt? revoke USB debugging authorisations in Developer options and plug it in again"},
	{Key: "device.multiple", Step: 1, Message: "more than one device is connected",
		Fix: "connect only the device to enroll, or set ANDROID_SERIAL to its serial (adb devices lists them)"},
	{Key: "download.failed", Step: 2, Message: "the agent APK could not be downloaded", Output: "download.txt",
		Fix: "check that this computer reaches {SERVER} and that the enroll key is still valid (until {EXPIRES}); otherwise generate a new script",
		Hints: []Hint{
			{"401", "the enroll key has expired or was revoked: generate a new script"},
			{"404", "the build is no longer in the registry: generate a new script"},
		}},
	{Key: "download.checksum", Step: 2, Message: "the downloaded APK's SHA-256 does not match the registry's",
		Fix: "the download was corrupted or altered on the way: run the script again; if it happens again, upload the build again"},
	{Key: "install.failed", Step: 3, Message: "the APK did not install", Output: "install.txt",
		Fix: "read the installer's message above; check the device's free storage and Android version",
		Hints: []Hint{
			{"INSTALL_FAILED_UPDATE_INCOMPATIBLE", "a copy signed with another key is installed: adb uninstall {PKG}, then run the script again"},
			{"INSTALL_FAILED_VERSION_DOWNGRADE", "a newer version is installed: adb uninstall {PKG}, then run the script again"},
			{"INSTALL_FAILED_INSUFFICIENT_STORAGE", "free some storage on the device, then run the script again"},
			{"INSTALL_FAILED_OLDER_SDK", "the device's Android version is older than this build supports"},
			{"INSTALL_FAILED_USER_RESTRICTED", "allow installs over USB: Developer options > Install via USB (Xiaomi needs a Mi account for it)"},
		}},
	{Key: "owner.failed", Step: 4, Message: "Device Owner could not be set", Output: "owner.txt",
		Fix: "factory reset the device; Device Owner needs a device with no accounts",
		Hints: []Hint{
			{"accounts on the device", "factory reset the device; Device Owner needs a device with no accounts, so skip adding any Google or vendor account during setup"},
			{"already provisioned", "factory reset the device; its setup has already finished, and Device Owner must be set before that"},
			{"owner is already set", "another app is Device Owner: remove it, or factory reset the device"},
			{"Unknown admin", "this build does not declare the admin receiver {ADMIN}; check the APK"},
		}},
	{Key: "grant.failed", Step: 5, Message: "a required permission could not be granted", Output: "grant.txt",
		Fix: "the APK must declare the permission above in its manifest; check the build"},
	{Key: "tweaks.failed", Step: 7, Message: "the app could not be exempted from battery optimisation", Output: "tweaks.txt",
		Fix: "set it by hand: Settings > Apps > {PKG} > Battery > Unrestricted, then run the script again"},
	{Key: "launch.failed", Step: 8, Message: "the app could not be launched", Output: "launch.txt",
		Fix: "the APK needs a launcher activity; open the app once on the device and run the script again"},
	{Key: "broadcast.failed", Step: 8, Message: "the configuration broadcast was not delivered", Output: "broadcast.txt",
		Fix: "the APK must declare the receiver {RECEIVER} for {ACTION}; the diagnostics file has the device's log"},
	{Key: "service.down", Step: 9, Message: "the agent is not running on the device",
		Fix: "open the app once on the device; if it closes at once, the diagnostics file has its crash log"},
	{Key: "register.timeout", Step: 9, Message: "the device did not register with the server in time",
		Fix: "check that the device reaches {SERVER} (Wi-Fi, firewall, VPN); the diagnostics file has the device's log"},
}

// Failures lists every failure point, in step order.
func Failures() []Failure { return failures }

// ExitCode is one row of the exit-code table.
type ExitCode struct {
	Code    int    `json:"code"`
	Step    *int   `json:"step"` // nil: not a step
	Meaning string `json:"meaning"`
	Fix     string `json:"fix"` // the usual fix
}

// ExitCodes is the table the dashboard shows for the scripts of p.
func ExitCodes(p Params) []ExitCode {
	fill := p.filler()
	out := []ExitCode{{Code: 0, Meaning: "enrolled: the device is registered and its agent runs"}}
	seen := map[int]bool{}
	for _, f := range failures {
		if seen[f.Code()] {
			continue
		}
		seen[f.Code()] = true
		row := ExitCode{Code: f.Code(), Meaning: f.Message, Fix: fill(f.Fix)}
		if f.Step > 0 {
			n := f.Step
			row.Step = &n
			row.Meaning = "step " + Steps[n-1].Title + " failed: " + f.Message
		} else {
			row.Meaning = "a prerequisite is missing: adb or curl"
		}
		out = append(out, row)
	}
	return out
}
