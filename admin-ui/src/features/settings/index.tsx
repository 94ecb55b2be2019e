import { EmptyState, PageHeader } from "@/components/states";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { useAuth } from "@/lib/auth";
import { ApiKeysPanel } from "./components/ApiKeysPanel";
import { AuditPanel } from "./components/AuditPanel";
import { UsersPanel } from "./components/UsersPanel";

/** Users and roles, API keys and the audit log: all need the manage permission. */
export default function SettingsPage() {
  const { can, user, role } = useAuth();
  if (!can("manage")) {
    return (
      <div className="space-y-4">
        <PageHeader title="Settings" />
        <EmptyState
          title="Settings are for admins"
          description={`You are signed in as ${user?.username ?? "?"} with the ${role ?? "?"} role. Users, API keys and the audit log need the admin role.`}
        />
      </div>
    );
  }
  return (
    <div className="space-y-4">
      <PageHeader title="Settings" description="Who may use NexMDM, the keys CI uses, and what everyone did." />
      <Tabs defaultValue="users">
        <TabsList aria-label="Settings sections">
          <TabsTrigger value="users">Users</TabsTrigger>
          <TabsTrigger value="keys">API keys</TabsTrigger>
          <TabsTrigger value="audit">Audit log</TabsTrigger>
        </TabsList>
        <TabsContent value="users">
          <UsersPanel />
        </TabsContent>
        <TabsContent value="keys">
          <ApiKeysPanel />
        </TabsContent>
        <TabsContent value="audit">
          <AuditPanel />
        </TabsContent>
      </Tabs>
    </div>
  );
}
