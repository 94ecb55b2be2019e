import { NavLink } from "react-router-dom";
import { Smartphone } from "lucide-react";
import { cn } from "@/lib/utils";
import { navItems } from "@/components/layout/nav";

interface SidebarProps {
  /** Icon-only rail (tablet width, or collapsed by the user). */
  collapsed: boolean;
  onNavigate?: () => void;
}

export function Sidebar({ collapsed, onNavigate }: SidebarProps) {
  return (
    <nav aria-label="Main" className="flex h-full flex-col gap-1 p-2">
      <div className={cn("flex h-12 items-center gap-2 px-2 font-semibold", collapsed && "justify-center px-0")}>
        <Smartphone className="size-5 text-primary" aria-hidden />
        {!collapsed && <span>NexMDM</span>}
      </div>
      <ul className="flex flex-col gap-1">
        {navItems.map(({ to, label, icon: Icon, end }) => (
          <li key={to}>
            <NavLink
              to={to}
              end={end}
              onClick={onNavigate}
              title={collapsed ? label : undefined}
              aria-label={collapsed ? label : undefined}
              className={({ isActive }) =>
                cn(
                  "flex h-9 items-center gap-3 rounded-md px-3 text-sm font-medium text-muted-foreground transition-colors hover:bg-accent hover:text-accent-foreground focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
                  isActive && "bg-accent text-foreground",
                  collapsed && "justify-center px-0",
                )
              }
            >
              <Icon className="size-4 shrink-0" aria-hidden />
              {!collapsed && <span>{label}</span>}
            </NavLink>
          </li>
        ))}
      </ul>
    </nav>
  );
}
