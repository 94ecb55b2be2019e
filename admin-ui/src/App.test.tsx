import { render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { App } from "@/App";
import { Providers } from "@/Providers";
import { signIn, testFeed, testQueryClient, mockFetch } from "@/test/utils";

function renderApp(path: string) {
  return render(
    <MemoryRouter initialEntries={[path]}>
      <Providers queryClient={testQueryClient()} feed={testFeed().feed}>
        <App />
      </Providers>
    </MemoryRouter>,
  );
}

describe("App routes", () => {
  it("sends a signed-out user to the login page", async () => {
    renderApp("/devices");
    expect(await screen.findByRole("button", { name: /log in/i })).toBeInTheDocument();
  });

  it("shows the layout with the role when signed in", async () => {
    mockFetch({});
    signIn("viewer");
    renderApp("/settings");
    expect((await screen.findAllByRole("navigation", { name: "Main" })).length).toBeGreaterThan(0);
    expect(screen.getAllByTestId("user-role")[0]).toHaveTextContent("viewer");
  });
});
