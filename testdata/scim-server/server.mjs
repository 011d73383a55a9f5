// An in-memory SCIM 2.0 server (RFC 7643 / 7644) built on scimmy, an
// implementation independent of idsync. idsync's SCIM connector tests run
// against it (internal/peers/scim.go starts it).
//
//   PORT=8880 SCIM_TOKEN=secret node server.mjs
//
// Serves /scim/v2 on 127.0.0.1 only, with bearer-token authentication.
// Users (with the enterprise extension) and Groups live in memory. userName
// (users) and displayName (groups) are unique: a clash is a 409 uniqueness
// error. Filtering, pagination, PATCH and error responses are
// scimmy's own. SCIM_PATCH=off advertises (and enforces) no PATCH support, so
// clients must update with PUT.
import {randomUUID} from "node:crypto";
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";

const port = Number(process.env.PORT ?? 8880);
const token = process.env.SCIM_TOKEN;
if (!token) {
    console.error("SCIM_TOKEN must be set");
    process.exit(2);
}
const patch = process.env.SCIM_PATCH !== "off";

// One in-memory store per resource type: id → resource.
function store(Resource, uniqueAttr, label) {
    const items = new Map();
    // Unique values compare exactly, as scimmy's filters do, so that a
    // client can find the resource a 409 names with an eq filter.
    const key = (v) => String(v ?? "");

    SCIMMY.Resources.declare(Resource)
        .ingress((resource, instance) => {
            const id = resource.id ?? randomUUID();
            const existing = items.get(id);
            if (resource.id && !existing) {
                throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            }
            for (const [otherID, other] of items) {
                if (otherID !== id && key(other[uniqueAttr]) === key(instance[uniqueAttr])) {
                    throw new SCIMMY.Types.Error(409, "uniqueness",
                        `${label} ${JSON.stringify(instance[uniqueAttr])} already exists`);
                }
            }
            const now = new Date();
            const stored = {
                ...JSON.parse(JSON.stringify(instance)),
                id,
                meta: {created: existing?.meta.created ?? now, lastModified: now},
            };
            items.set(id, stored);
            return stored;
        })
        .egress((resource) => {
            if (resource.id) {
                const found = items.get(resource.id);
                if (!found) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
                return found;
            }
            const all = [...items.values()];
            if (!resource.filter) return all;
            // scimmy's Filter.match throws on a resource that lacks a
            // multi-valued attribute the filter names (emails[…]): match
            // one resource at a time, a resource that throws does not match.
            return all.filter((r) => {
                try {
                    return resource.filter.match([r]).length > 0;
                } catch {
                    return false;
                }
            });
        })
        .degress((resource) => {
            if (!items.delete(resource.id)) {
                throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            }
        });
}

// The enterprise extension is dropped on ingress unless it is declared.
SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false);
store(SCIMMY.Resources.User, "userName", "userName");
store(SCIMMY.Resources.Group, "displayName", "displayName");

const app = express();
app.disable("x-powered-by");
if (!patch) {
    app.patch("/scim/v2/*", (req, res) => res.status(501).type("application/scim+json")
        .send(new SCIMMY.Messages.Error({status: 501, message: "PATCH is not supported"})));
}
const routers = new SCIMMYRouters({
    type: "bearer",
    docUri: "https://example.test/scim-auth",
    handler: (req) => {
        if (req.header("Authorization") !== `Bearer ${token}`) {
            throw new Error("Invalid or missing bearer token");
        }
        return "idsync";
    },
});
// The routers turn on patch, filter, sort and bulk: say what this server does.
SCIMMY.Config.set({patch, filter: 200, sort: true, bulk: false});
app.use("/scim/v2", routers);

app.listen(port, "127.0.0.1", () => {
    console.log(`SCIM server listening on http://127.0.0.1:${port}/scim/v2`);
});
for (const sig of ["SIGTERM", "SIGINT"]) {
    process.on(sig, () => process.exit(0));
}
