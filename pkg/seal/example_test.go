package seal_test

import (
	"bytes"
	"fmt"

	"github.com/pipa-kr/pipa/pkg/seal"
)

func Example() {
	box, err := seal.New(map[string][]byte{"2026": bytes.Repeat([]byte{7}, seal.KeySize)}, "2026")
	if err != nil {
		panic(err)
	}
	ad := []byte("tenants/jeongeup/units/library/ledger/entries/2#requester_name")
	sealed, _ := box.Seal([]byte("홍길동"), ad)
	id, _ := seal.KeyID(sealed)
	plain, _ := box.Open(sealed, ad)
	fmt.Println(id, string(plain))
	// Output: 2026 홍길동
}
