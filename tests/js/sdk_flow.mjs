// Drive Artboard's PocketBase-compatible record auth with the real PocketBase JS SDK.
//
// Usage: node tests/js/sdk_flow.mjs BASE_URL
// Success: prints one JSON line {"ok":true,...} and exits 0.
// Failure: prints one JSON line {"ok":false,"step":...,"error":...} and exits 1 (2 for bad usage).
//
// The flow is what a PocketBase client app does: register, sign in, refresh, fail a sign-in,
// sign in through the second collection name (one user base), and read its own record.

import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import PocketBase, { ClientResponseError } from "pocketbase";

const baseUrl = process.argv[2];
if (!baseUrl) {
    console.error("usage: node sdk_flow.mjs BASE_URL");
    process.exit(2);
}

const sdkVersion = JSON.parse(
    readFileSync(new URL("./node_modules/pocketbase/package.json", import.meta.url), "utf8"),
).version;
const email = `sdk-${randomUUID().slice(0, 12)}@example.com`;
const password = "correct horse battery"; // tests/support.py PASSWORD: the Python test signs in with it too
const steps = [];
let step = "start";

class FlowError extends Error {}

function check(condition, message) {
    if (!condition) {
        throw new FlowError(message);
    }
}

async function run(name, body) {
    step = name;
    const result = await body();
    steps.push(name);
    return result;
}

function describe(error) {
    if (error instanceof ClientResponseError) {
        return `ClientResponseError status=${error.status} url=${error.url} response=${JSON.stringify(error.response)}`;
    }
    return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

try {
    const pb = new PocketBase(baseUrl);

    const created = await run("create", () =>
        pb.collection("users").create({ email, password, passwordConfirm: password }),
    );
    check(typeof created.id === "string" && created.id !== "", `create returned no record id: ${JSON.stringify(created)}`);
    check(!pb.authStore.isValid, "create must not sign the client in (PocketBase answers the record, no token)");

    const auth = await run("authWithPassword", () => pb.collection("users").authWithPassword(email, password));
    check(pb.authStore.isValid, `authStore is not valid after authWithPassword (token ${pb.authStore.token})`);
    check(auth.record.email === email, `signed-in record email is ${auth.record.email}, expected ${email}`);
    check(pb.authStore.record?.id === created.id, "authStore.record is not the created record");
    const firstToken = pb.authStore.token;

    const refreshed = await run("authRefresh", () => pb.collection("users").authRefresh());
    check(pb.authStore.isValid, "authStore is not valid after authRefresh");
    check(typeof refreshed.token === "string" && refreshed.token !== "", "authRefresh returned no token");
    check(pb.authStore.token === refreshed.token, "authStore does not hold the refreshed token");
    check(refreshed.record.id === created.id, "authRefresh returned another record");

    const wrongStatus = await run("wrongPassword", async () => {
        const stranger = new PocketBase(baseUrl);
        try {
            await stranger.collection("users").authWithPassword(email, "not the password");
        } catch (error) {
            check(error instanceof ClientResponseError, `wrong password raised ${describe(error)}`);
            check(error.status === 400, `wrong password answered status ${error.status}, expected 400`);
            check(!stranger.authStore.isValid, "a failed sign-in left the authStore valid");
            return error.status;
        }
        throw new FlowError("authWithPassword with a wrong password succeeded");
    });

    const generatio = await run("generatioUsersLogin", async () => {
        const other = new PocketBase(baseUrl);
        const result = await other.collection("generatio_users").authWithPassword(email, password);
        check(other.authStore.isValid, "authStore is not valid after signing in through generatio_users");
        check(result.record.id === created.id, "generatio_users signed in a different account than users");
        check(result.record.collectionName === "generatio_users", `collectionName is ${result.record.collectionName}`);
        return result.record;
    });

    const own = await run("getOne", () => pb.collection("users").getOne(created.id));
    check(own.id === created.id, `getOne returned record ${own.id}, expected ${created.id}`);
    check(own.email === email, `getOne returned email ${own.email}, expected ${email}`);

    console.log(
        JSON.stringify({
            ok: true,
            sdkVersion,
            steps,
            email,
            userId: created.id,
            tokenRotated: refreshed.token !== firstToken,
            wrongPasswordStatus: wrongStatus,
            generatioCollectionId: generatio.collectionId,
        }),
    );
} catch (error) {
    console.log(JSON.stringify({ ok: false, sdkVersion, step, steps, error: describe(error) }));
    console.error(`sdk_flow: step "${step}" failed: ${describe(error)}`);
    process.exit(1);
}
