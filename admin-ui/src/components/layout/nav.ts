import { Bell, Cpu, LayoutDashboard, Package, Rocket, Settings, Smartphone } from "lucide-react";

export const navItems = [
  { to: "/", label: "Overview", icon: LayoutDashboard, end: true },
  { to: "/devices", label: "Devices", icon: Smartphone, end: false },
  { to: "/alerts", label: "Alerts", icon: Bell, end: false },
  { to: "/enroll", label: "Enrollment", icon: Cpu, end: false },
  { to: "/apk", label: "APK builds", icon: Package, end: false },
  { to: "/releases", label: "OTA releases", icon: Rocket, end: false },
  { to: "/settings", label: "Settings", icon: Settings, end: false },
] as const;
