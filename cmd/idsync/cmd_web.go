package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/connector/graph"
	"github.com/idsync/idsync/engine"
	"github.com/idsync/idsync/metrics"
	"github.com/idsync/idsync/scheduler"
	"github.com/idsync/idsync/store/sealed"
	"github.com/idsync/idsync/tenant"
	"github.com/idsync/idsync/web"
)

// webFlags are serve's flags for the console and API.
type webFlags struct {
	listen, cert, key string
}

func (w *webFlags) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&w.listen, "listen", "127.0.0.1:8080", `address of the web console, API, /metrics and /healthz ("" turns them off)`)
	cmd.Flags().StringVar(&w.cert, "tls-cert", "", "TLS certificate (PEM) of the console; required to listen on a non-loopback address")
	cmd.Flags().StringVar(&w.key, "tls-key", "", "TLS private key (PEM) of the console")
}

// check refuses plain HTTP on anything but a loopback address: the console
// carries passwords and session cookies.
func (w *webFlags) check() error {
	if (w.cert == "") != (w.key == "") {
		return usageError{errors.New("give both --tls-cert and --tls-key, or neither")}
	}
	if w.cert != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(w.listen)
	if err != nil {
		return usageError{fmt.Errorf("--listen %q: %w", w.listen, err)}
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return usageError{fmt.Errorf("--listen %s: plain HTTP is only served on a loopback address (127.0.0.1, ::1); give --tls-cert and --tls-key to serve the console on %s", w.listen, host)}
}

// tenantWait is how long a console request waits for a tenant's run lock
// (another step of the tenant running) before it says so.
const tenantWait = 10 * time.Second

// tenantWebOptions gives the console the tenants (R5) when the
// installation has any, or a tenant template: the domain service over the
// provider's store, the template, and a tenant's onboarding opened as
// idsync onboard opens it (openOnboarding), so both make the same checks.
func tenantWebOptions(ctx context.Context, g *globalFlags, a *app, o *web.Options) error {
	if a.cfg.Tenants.Template == "" {
		ts, err := a.store.Tenants(ctx)
		if err != nil {
			return err
		}
		if len(ts) == 0 {
			return nil
		}
	}
	o.Tenants = tenantService(a.cfg, a.store)
	// The template's path as idsync serve started (a.cfg is replaced by
	// the console's reloads, while pages call this; changing the path
	// takes a restart).
	tpl := a.cfg.Tenants.Template
	o.TenantTemplate = func() (*tenant.Template, error) { return tenant.LoadTemplate(tpl) }
	o.OpenTenant = func(ctx context.Context, id string) (*tenant.Onboarder, func(), error) {
		s, err := openOnboarding(ctx, g, id, tenantWait)
		if err != nil {
			return nil, nil, err
		}
		return s.ob, s.Close, nil
	}
	if cc := a.cfg.Tenants.Consent; cc.ClientID != "" {
		cs := &tenant.ConsentStore{St: a.store}
		setting := cc.Setting
		if setting == "" {
			setting = "directoryId"
		}
		o.Consent = &web.ConsentOptions{
			Consent:     &graph.Consent{ClientID: cc.ClientID, Authority: cc.Authority, Store: cs},
			RedirectURL: cc.RedirectURL, Setting: setting,
			Peek: func(r *http.Request, key string) (string, bool, error) {
				st, ok, err := cs.Peek(r.Context(), key)
				return st.Tenant, ok, err
			},
		}
	}
	return nil
}

// start serves the console and API until ctx ends.
func (w *webFlags) start(ctx context.Context, g *globalFlags, a *app, s *scheduler.Scheduler) error {
	if w.listen == "" {
		return nil
	}
	if err := w.check(); err != nil {
		return err
	}
	src := metrics.Source{Store: a.store, Connectors: a.engine.ConnectorNames, Scheduler: s.State}
	if a.role != nil {
		src.HA = a.role.State
	}
	o := web.Options{Store: a.store, View: sealed.Masked(a.store, secretPolicy(a.cfg)), Secret: secretPolicy(a.cfg).IsSecret, Engine: a.engine, Rules: a.rules, Apps: a.apps, DataDir: a.cfg.DataDir, Config: a.cfg, Mask: masker.Mask,
		Metrics: metrics.Handler(src), Health: metrics.Health(src), Secure: w.cert != "", Version: version,
		RunCycle: func(ctx context.Context) error {
			_, err := s.Cycle(ctx, false, engine.RunOptions{})
			return err
		},
		RunProfile: func(ctx context.Context, conn string, p engine.Profile, o engine.RunOptions) error {
			unlock, err := a.lock(time.Hour)
			if err != nil {
				return err
			}
			defer unlock()
			_, err = a.engine.Run(ctx, conn, p, o)
			return err
		}}
	if oc := a.cfg.Console.OIDC; oc != nil {
		// Changing console.oidc takes a restart of idsync serve.
		ws, err := oc.WithSecret()
		if err != nil {
			return fmt.Errorf("%w: idsync serve signs people in to the console with it (set the variable, or remove console.oidc)", err)
		}
		masker.Add(ws.ClientSecret)
		o.OIDC = ws
	}
	if err := configWebOptions(g, a, s, &o); err != nil {
		return err
	}
	if err := tenantWebOptions(ctx, g, a, &o); err != nil {
		return err
	}
	srv, err := web.New(ctx, o)
	if err != nil {
		return err
	}
	hs := &http.Server{Addr: w.listen, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	ln, err := net.Listen("tcp", w.listen)
	if err != nil {
		return fmt.Errorf("web console: %w", err)
	}
	go func() {
		var err error
		if w.cert != "" {
			err = hs.ServeTLS(ln, w.cert, w.key)
		} else {
			err = hs.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("web console", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	scheme := "http"
	if w.cert != "" {
		scheme = "https"
	}
	slog.Info("web console", "url", scheme+"://"+ln.Addr().String())
	return nil
}
