package server

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pipa-kr/pipa/pkg/apierr"
)

// NewGatewayMux is the grpc-gateway mux with pipa's JSON conventions: lowerCamelCase names,
// zeros and empty lists written (JSON), unknown fields refused, a malformed body or a path or
// query value that is not UTF-8 refused as a 400 that says where, and errors as google.rpc.Status
// with their details (an etag mismatch as 412 Precondition Failed). Behind Handler it also
// answers 405 with Allow, serves HEAD wherever GET is served, and names each request's route for
// telemetry.
func NewGatewayMux() *runtime.ServeMux {
	var mux *runtime.ServeMux
	mux = runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: newJSONCodec()}),
		runtime.WithIncomingHeaderMatcher(incomingHeader),
		runtime.WithErrorHandler(writeError),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.WithMiddlewares(probed, namedRoute, func(next runtime.HandlerFunc) runtime.HandlerFunc {
			return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
				if err := checkUTF8(params, r); err != nil {
					_, out := runtime.MarshalerForRequest(mux, r)
					writeError(r.Context(), mux, out, w, r, apierr.ToStatus(err))
					return
				}
				if r.Body != nil && r.Body != http.NoBody {
					r.Body = &bodySlot{ReadCloser: r.Body}
				}
				next(w, r, params)
			}
		}),
	)
	return mux
}

// incomingHeader passes X-Request-Id and If-Match on to the call as metadata, besides what
// grpc-gateway passes by default. It is asked for every header of every request, so it compares
// without lower-casing a copy of each name.
func incomingHeader(h string) (string, bool) {
	switch {
	case strings.EqualFold(h, "x-request-id"):
		return "x-request-id", true
	case strings.EqualFold(h, "if-match"):
		return "if-match", true
	}
	return runtime.DefaultHeaderMatcher(h)
}

// writeError is the gateway's error handler: a body the decoder could not read answers with the
// decoder's own error (the generated code keeps only its text), an etag mismatch is 412, and an
// Unauthenticated answer carries an RFC 6750 challenge, an Unavailable one (503) a Retry-After.
func writeError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	httpStatus := 0
	if hs, ok := errors.AsType[*runtime.HTTPStatusError](err); ok {
		httpStatus, err = hs.HTTPStatus, hs.Err
	}
	if slot, ok := r.Body.(*bodySlot); ok && slot.err != nil && status.Code(err) == codes.InvalidArgument {
		err = apierr.ToStatus(slot.err)
	}
	st := withInfo(status.Convert(err))
	switch {
	case reasonOf(st) == "BODY_TOO_LARGE":
		httpStatus = http.StatusRequestEntityTooLarge
	case reasonOf(st) == "ETAG_MISMATCH":
		// AIP-154 says Aborted over gRPC; over HTTP a stale etag is RFC 9110's failed precondition.
		httpStatus = http.StatusPreconditionFailed
	case st.Code() == codes.Unauthenticated:
		w = challenge{w, st.Message()}
	case st.Code() == codes.Unavailable:
		// 503 with when to come back, as RFC 9110 says, so that clients' retry policies retry.
		w.Header().Set("Retry-After", strconv.Itoa(int(retryDelay(st).Round(time.Second)/time.Second)))
	}
	err = st.Err()
	if httpStatus != 0 {
		err = &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: err}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// retryDelay is the RetryInfo delay of st, at least a second (apierr.RetryAfter without one).
func retryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return max(ri.GetRetryDelay().AsDuration(), time.Second)
		}
	}
	return apierr.RetryAfter
}

// challenge replaces the gateway's WWW-Authenticate (the bare message) with an RFC 6750 one.
type challenge struct {
	http.ResponseWriter
	message string
}

func (c challenge) WriteHeader(code int) {
	c.Header().Set("WWW-Authenticate", `Bearer realm="pipa", error="invalid_token", error_description="`+
		strings.ReplaceAll(c.message, `"`, `'`)+`"`)
	c.ResponseWriter.WriteHeader(code)
}

// InfoStatus is a status of code with an ErrorInfo (domain pipa) of reason, for the errors that
// are not a domain's (a transport's, a router's).
func InfoStatus(c codes.Code, reason, message string) *status.Status {
	st := status.New(c, message)
	if s, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: apierr.Domain}); err == nil {
		return s
	}
	return st
}

// withInfo gives a status without an ErrorInfo (a transport error from a service that is down,
// say) one whose reason is its code's name, so that every error a client reads has a reason.
func withInfo(st *status.Status) *status.Status {
	if st.Code() == codes.OK || reasonOf(st) != "" {
		return st
	}
	reason := strings.ToUpper(camel.ReplaceAllString(st.Code().String(), "${1}_${2}")) // DeadlineExceeded: DEADLINE_EXCEEDED
	if s, err := st.WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: apierr.Domain}); err == nil {
		return s
	}
	return st
}

var camel = regexp.MustCompile(`([a-z])([A-Z])`)

func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// checkUTF8 refuses a path parameter, query parameter name or query value that is not UTF-8,
// which no proto string can hold, naming it: a resource name's id by its collection, as the
// route's template does (tenants/{tenant}).
func checkUTF8(params map[string]string, r *http.Request) error {
	for name, v := range params {
		if utf8.ValidString(v) {
			continue
		}
		segs := strings.Split(v, "/")
		for i, s := range segs {
			if !utf8.ValidString(s) && i > 0 && i%2 == 1 {
				name = ParamName(segs[i-1])
				break
			}
		}
		return notUTF8(name, "path parameter")
	}
	if err := checkQueryUTF8(r); err != nil {
		return err
	}
	return nil
}

func checkQueryUTF8(r *http.Request) *apierr.Error {
	if utf8.ValidString(r.URL.RawQuery) { // percent-encoded or not, all valid: nothing to decode
		if !strings.Contains(r.URL.RawQuery, "%") {
			return nil
		}
	}
	for name, vs := range r.URL.Query() {
		if !utf8.ValidString(name) {
			return notUTF8(strings.ToValidUTF8(name, "\uFFFD"), "query parameter name")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return notUTF8(name, "query parameter")
			}
		}
	}
	return nil
}

func notUTF8(name, what string) *apierr.Error {
	return apierr.Invalid(apierr.Violation{Field: name, Rule: "utf8",
		Description: "the " + what + " " + name + " is not valid UTF-8 (percent-encode the UTF-8 bytes of the text)"})
}
