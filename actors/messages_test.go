package actors

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestWaitGivesUpAfterItsTimeoutWhenNothingAnswers(t *testing.T) {
	r := NewHeartbeatRequest()
	_, ok := r.Wait(10 * time.Millisecond)
	assert.False(t, ok)
}

func TestAReusedRequestsTimerExpiresAnewAndNeverEarly(t *testing.T) {
	r := NewHeartbeatRequest()
	for range 100 { // answered and expired at once: either may win the select
		r.answer(HeartbeatReply{Outcome: Stored})
		if _, ok := r.Wait(0); !ok {
			<-r.reply
		}
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		r.answer(HeartbeatReply{Outcome: Deduped})
	}()
	rep, ok := r.Wait(time.Minute)
	assert.True(t, ok, "an earlier Wait's expiry must not end this one")
	assert.Equal(t, Deduped, rep.Outcome)

	_, ok = r.Wait(10 * time.Millisecond)
	assert.False(t, ok, "with nothing to answer, the reused timer expires")
}

func TestReleaseKeepsTheTimerForTheNextRequest(t *testing.T) {
	r := NewHeartbeatRequest()
	r.answer(HeartbeatReply{})
	r.Wait(time.Minute)
	timer := r.timer
	r.Release()
	assert.Same(t, timer, r.timer)
	assert.Equal(t, r, r.done.req)
}
