import { lazy, Suspense } from "react";
import { Route, Routes } from "react-router-dom";
import { AppLayout } from "@/components/layout/AppLayout";
import { RequireAuth } from "@/components/layout/RequireAuth";
import { EmptyState, LoadingState } from "@/components/states";

// Routes stay thin: each page is its feature's index.tsx, loaded on demand.
const LoginPage = lazy(() => import("@/features/login"));
const OverviewPage = lazy(() => import("@/features/overview"));
const DevicesPage = lazy(() => import("@/features/devices"));
const DeviceDetailPage = lazy(() => import("@/features/device-detail"));
const AlertsPage = lazy(() => import("@/features/alerts"));
const EnrollPage = lazy(() => import("@/features/enroll"));
const ApkPage = lazy(() => import("@/features/apk"));
const ReleasesPage = lazy(() => import("@/features/releases"));
const SettingsPage = lazy(() => import("@/features/settings"));

function NotFound() {
  return <EmptyState title="Page not found" description="There is nothing at this address." />;
}

export function App() {
  return (
    <Suspense fallback={<LoadingState />}>
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route element={<RequireAuth />}>
          <Route element={<AppLayout />}>
            <Route index element={<OverviewPage />} />
            <Route path="devices" element={<DevicesPage />} />
            <Route path="devices/:id" element={<DeviceDetailPage />} />
            <Route path="alerts" element={<AlertsPage />} />
            <Route path="enroll" element={<EnrollPage />} />
            <Route path="apk" element={<ApkPage />} />
            <Route path="releases" element={<ReleasesPage />} />
            <Route path="settings" element={<SettingsPage />} />
            <Route path="*" element={<NotFound />} />
          </Route>
        </Route>
      </Routes>
    </Suspense>
  );
}
