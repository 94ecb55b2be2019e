import { PageHeader } from "@/components/states";
import { Tabs, TabsContent, TabsList, TabsTrigger } from "@/components/ui/tabs";
import { useCan } from "@/lib/auth";
import { AlertsList } from "./components/AlertsList";
import { ChannelsPanel } from "./components/ChannelsPanel";
import { RulesPanel } from "./components/RulesPanel";

/** Alerts, live from the feed; with the manage permission, where they go and how. */
export default function AlertsPage() {
  const canManage = useCan("manage");
  return (
    <div className="space-y-4">
      <PageHeader title="Alerts" description="Open and resolved alerts, updated live. Acknowledge what you are handling." />
      <Tabs defaultValue="alerts">
        <TabsList aria-label="Alerts sections">
          <TabsTrigger value="alerts">Alerts</TabsTrigger>
          {canManage && <TabsTrigger value="channels">Channels</TabsTrigger>}
          <TabsTrigger value="rules">Rules</TabsTrigger>
        </TabsList>
        <TabsContent value="alerts">
          <AlertsList />
        </TabsContent>
        {canManage && (
          <TabsContent value="channels">
            <ChannelsPanel />
          </TabsContent>
        )}
        <TabsContent value="rules">
          <RulesPanel />
        </TabsContent>
      </Tabs>
    </div>
  );
}
