import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { LoginForm } from "@/features/login/components/LoginForm";
import { sessionStore } from "@/lib/session";
import { jsonResponse, mockFetch, renderPage } from "@/test/utils";

describe("LoginForm", () => {
  it("logs in and keeps the refresh token", async () => {
    const onSuccess = vi.fn();
    mockFetch({
      "POST /admin/auth/login": () => ({
        access_token: "jwt",
        token_type: "Bearer",
        expires_in: 900,
        refresh_token: "nxr_1",
        user: { id: "00000000-0000-4000-8000-000000000001", username: "ops", role: "operator" },
      }),
    });
    renderPage(<LoginForm onSuccess={onSuccess} />);
    await userEvent.type(screen.getByLabelText("Username"), "ops");
    await userEvent.type(screen.getByLabelText("Password"), "secret");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    await waitFor(() => expect(onSuccess).toHaveBeenCalled());
    expect(sessionStore.get()?.user.role).toBe("operator");
    expect(localStorage.getItem("nexmdm.refresh_token")).toBe("nxr_1");
  });

  it("says so when the credentials are wrong", async () => {
    mockFetch({ "POST /admin/auth/login": () => jsonResponse({ error: "invalid_credentials", message: "wrong" }, 401) });
    renderPage(<LoginForm onSuccess={() => {}} />);
    await userEvent.type(screen.getByLabelText("Username"), "ops");
    await userEvent.type(screen.getByLabelText("Password"), "nope");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Wrong username or password.");
    expect(sessionStore.get()).toBeNull();
  });

  it("asks for both fields before calling the server", async () => {
    const fetch = mockFetch({});
    renderPage(<LoginForm onSuccess={() => {}} />);
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(screen.getByText("Enter your username")).toBeInTheDocument();
    expect(screen.getByText("Enter your password")).toBeInTheDocument();
    expect(fetch).not.toHaveBeenCalled();
  });
});
