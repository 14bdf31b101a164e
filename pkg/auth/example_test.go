package auth_test

import (
	"crypto/ed25519"
	"log"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pipa-kr/pipa/pkg/auth"
)

// A service in development mode: it checks tokens signed with the local key, leaves the public
// methods open, and calls other services with a service token it keeps fresh.
func Example_devWiring() {
	key, err := auth.LoadOrCreateDevKey(filepath.Join(".data", "dev-signing-key.pem"))
	if err != nil {
		log.Fatal(err)
	}
	verifier := auth.NewDevVerifier(key.Public().(ed25519.PublicKey))
	public := func(fullMethod string) bool {
		return strings.HasPrefix(fullMethod, "/pipa.registry.v1.PublicPolicyService/")
	}
	_ = grpc.NewServer(
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(verifier, public)),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(verifier, public)),
	)

	conn, err := grpc.NewClient("localhost:7001",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.PerRPCToken(auth.DevServiceToken(key, 15*time.Minute))),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
}
