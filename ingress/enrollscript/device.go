package enrollscript

// What the scripts ask of the agent APK and of the device. These are the
// APK's contract: its Device Owner receiver, its configuration receiver
// and the permissions it declares.
const (
	adminReceiver  = ".AdminReceiver"             // android:permission BIND_DEVICE_ADMIN
	configReceiver = ".ConfigReceiver"            // receives the configuration broadcast
	configAction   = "com.nexmdm.agent.CONFIGURE" // with extras server_url, enroll_key, alias_b64
)

// Permission is a runtime permission the scripts grant with pm grant.
type Permission struct {
	Name     string
	MinSDK   int  // skipped on older Android versions
	Required bool // a failed grant fails step 5
}

// permissions are granted in step 5. Location is what lets the agent read
// the Wi-Fi SSID from Android 10 on.
var permissions = []Permission{
	{"android.permission.ACCESS_FINE_LOCATION", 0, true},
	{"android.permission.READ_PHONE_STATE", 0, true},
	{"android.permission.ACCESS_BACKGROUND_LOCATION", 29, false},
	{"android.permission.POST_NOTIFICATIONS", 33, false},
}

// appOps are set best-effort in step 5: a Device Owner may grant them, and
// the manual steps cover a device that refuses.
var appOps = []string{"GET_USAGE_STATS", "SYSTEM_ALERT_WINDOW", "USE_FULL_SCREEN_INTENT"}

// Tweak is one device setting of step 7, run as `adb shell <Command>`
// with {PKG} filled in.
type Tweak struct {
	Title    string
	Command  string
	Required bool // a failure fails step 7
}

var tweaks = []Tweak{
	{"battery optimisation: {PKG} whitelisted", "dumpsys deviceidle whitelist +{PKG}", true},
	{"app standby off", "settings put global app_standby_enabled 0", false},
	{"background running allowed", "cmd appops set {PKG} RUN_ANY_IN_BACKGROUND allow", false},
	{"standby bucket: active", "am set-standby-bucket {PKG} active", false},
	{"ambient wake on pick-up", "settings put secure doze_pulse_on_pick_up 1", false},
	{"ambient wake on tap", "settings put secure doze_tap_gesture 1", false},
	{"brightness: manual", "settings put system screen_brightness_mode 0", false},
	{"brightness: 60 percent", "settings put system screen_brightness 153", false},
}

// ManualStep is a setting adb cannot change on every device, which the
// scripts ask the operator to make by hand.
type ManualStep struct {
	What    string
	Android string // versions
	Path    string
}

var manualSteps = []ManualStep{
	{"Usage Access", "13", "Settings > Apps > Special app access > Usage access > {PKG} > Permit usage access"},
	{"Usage Access", "14+", "Settings > Apps > Special app access > Usage access > {PKG} > Permit usage access (Samsung: Settings > Apps > Menu > Special access > Usage data access)"},
	{"Full-Screen Intents", "13", "nothing to do: Android 13 grants them at install"},
	{"Full-Screen Intents", "14+", "Settings > Apps > Special app access > Full screen notifications > {PKG} > Allow"},
}
