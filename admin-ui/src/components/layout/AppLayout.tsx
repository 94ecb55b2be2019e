import { useState } from "react";
import { Outlet } from "react-router-dom";
import { Menu, PanelLeftClose, PanelLeftOpen } from "lucide-react";
import { Button } from "@/components/ui/button";
import { Dialog, DialogContent, DialogTitle } from "@/components/ui/dialog";
import { FeedIndicator } from "@/components/layout/FeedIndicator";
import { Sidebar } from "@/components/layout/Sidebar";
import { ThemeToggle } from "@/components/layout/ThemeToggle";
import { UserMenu } from "@/components/layout/UserMenu";
import { cn } from "@/lib/utils";

const COLLAPSE_KEY = "nexmdm.sidebar_collapsed";

/**
 * Sidebar + header. Wide screens get the full sidebar (collapsible to a
 * rail); tablets (md–lg) get the icon rail; narrower screens a drawer.
 */
export function AppLayout() {
  const [collapsed, setCollapsed] = useState(() => localStorage.getItem(COLLAPSE_KEY) === "1");
  const [drawer, setDrawer] = useState(false);

  const toggleCollapsed = () => {
    setCollapsed((c) => {
      localStorage.setItem(COLLAPSE_KEY, c ? "0" : "1");
      return !c;
    });
  };

  return (
    <div className="flex min-h-screen bg-background">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-background focus:p-2"
      >
        Skip to content
      </a>
      {/* tablet: rail; the column spans the page, the nav sticks to the viewport */}
      <div className={cn("hidden w-14 shrink-0 border-r bg-sidebar md:block", !collapsed && "lg:hidden")}>
        <aside className="sticky top-0 h-screen">
          <Sidebar collapsed />
        </aside>
      </div>
      {/* desktop: full */}
      {!collapsed && (
        <div className="hidden w-56 shrink-0 border-r bg-sidebar lg:block">
          <aside className="sticky top-0 h-screen overflow-y-auto">
            <Sidebar collapsed={false} />
          </aside>
        </div>
      )}
      <Dialog open={drawer} onOpenChange={setDrawer}>
        <DialogContent className="left-0 top-0 h-full max-h-none w-64 max-w-none translate-x-0 translate-y-0 rounded-none p-0">
          <DialogTitle className="sr-only">Navigation</DialogTitle>
          <Sidebar collapsed={false} onNavigate={() => setDrawer(false)} />
        </DialogContent>
      </Dialog>
      <div className="flex min-w-0 flex-1 flex-col">
        <header className="sticky top-0 z-20 flex h-14 shrink-0 items-center gap-2 border-b bg-background/95 px-3 backdrop-blur sm:px-4">
          <Button variant="ghost" size="icon" className="md:hidden" onClick={() => setDrawer(true)} aria-label="Open navigation">
            <Menu />
          </Button>
          <Button
            variant="ghost"
            size="icon"
            className="hidden lg:inline-flex"
            onClick={toggleCollapsed}
            aria-label={collapsed ? "Expand sidebar" : "Collapse sidebar"}
          >
            {collapsed ? <PanelLeftOpen /> : <PanelLeftClose />}
          </Button>
          <div className="flex-1" />
          <FeedIndicator />
          <ThemeToggle />
          <UserMenu />
        </header>
        <main id="main" className="flex-1 p-4 outline-none sm:p-6" tabIndex={-1}>
          <Outlet />
        </main>
      </div>
    </div>
  );
}
