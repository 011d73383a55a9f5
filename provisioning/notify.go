package provisioning

import (
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// maxMailErrors is the number of errors a notification lists.
const maxMailErrors = 20

// notify e-mails the application's notification address about a cycle
// with errors or a quarantine (R3.3).
func notify(a *App, r *Result) error {
	if a.Notify == "" || a.SMTP == nil {
		return nil
	}
	var subject string
	switch {
	case r.Quarantine != nil:
		subject = fmt.Sprintf("idsync provisioning: application %s is quarantined", a.Name)
	case r.Errors == 0 && r.Guarded:
		subject = fmt.Sprintf("idsync provisioning: application %s: the accidental-delete guard stopped the deprovisioning", a.Name)
	default:
		subject = fmt.Sprintf("idsync provisioning: application %s: %d errors", a.Name, r.Errors)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Application: %s\r\n", a.Name)
	fmt.Fprintf(&b, "Cycle: %d started %s\r\n", r.Cycle, r.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "Created %d, updated %d, disabled %d, deleted %d, skipped %d, errors %d.\r\n",
		r.Created, r.Updated, r.Disabled, r.Deleted, r.Skipped, r.Errors)
	if r.Message != "" {
		fmt.Fprintf(&b, "\r\n%s\r\n", r.Message)
	}
	if q := r.Quarantine; q != nil {
		fmt.Fprintf(&b, "\r\nThe application is quarantined: %s\r\nidsync retries at %s (then at increasing intervals, up to a day) instead of sending requests that fail. Fix the problem, then run `idsync provisioning run %s --force`.\r\n",
			q.Reason, q.Until.UTC().Format(time.RFC3339), a.Name)
	}
	if len(r.ErrorList) > 0 {
		b.WriteString("\r\nErrors:\r\n")
		for i, e := range r.ErrorList {
			if i == maxMailErrors {
				fmt.Fprintf(&b, "  … and %d more: see `idsync provisioning log %s`\r\n", len(r.ErrorList)-i, a.Name)
				break
			}
			fmt.Fprintf(&b, "  %s: %s\r\n", e.Object, oneLine(e.Message))
		}
	}
	return sendMail(a.SMTP, a.Notify, subject, b.String())
}

// sendMail sends a plain-text message. PLAIN authentication is used when a
// username is set (net/smtp allows it only over TLS or to localhost).
func sendMail(s *SMTP, to, subject, body string) error {
	addr := s.Addr
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "25")
	}
	var auth smtp.Auth
	if s.Username != "" {
		host, _, _ := net.SplitHostPort(addr)
		auth = smtp.PlainAuth("", s.Username, s.Password, host)
	}
	rcpts := strings.Split(to, ",")
	for i := range rcpts {
		rcpts[i] = strings.TrimSpace(rcpts[i])
	}
	msg := "From: " + s.From + "\r\n" +
		"To: " + strings.Join(rcpts, ", ") + "\r\n" +
		"Subject: " + oneLine(subject) + "\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"\r\n" + body
	if err := smtp.SendMail(addr, auth, s.From, rcpts, []byte(msg)); err != nil {
		return fmt.Errorf("send the notification e-mail to %s via %s: %w", to, addr, err)
	}
	return nil
}

func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
