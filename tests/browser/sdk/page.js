// The page of the browser-SDK test: Stytch's official headless client, nothing else.
// The test drives it through `window.stytch` (the SDK's own public API) from Playwright.
import { StytchAPIError, StytchHeadlessClient } from "@stytch/vanilla-js/headless";

const params = new URLSearchParams(window.location.search);
window.stytch = new StytchHeadlessClient(params.get("public_token"), {
  endpoints: {
    // Undocumented but honoured: how the SDK is pointed at an API on plain http with a port.
    testAPIURL: params.get("api"),
    // Keep the SDK's helper iframe on loopback: this test talks to nothing outside.
    clientsideServicesIframeURL: `${window.location.origin}/blank.html`,
  },
});
window.StytchAPIError = StytchAPIError;
window.sdkReady = true;
