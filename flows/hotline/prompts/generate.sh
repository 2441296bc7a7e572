#!/usr/bin/env bash
# Regenerates the hotline's prompt files: 8 kHz mono 16-bit WAV, one copy per
# language under zh/ and en/, spoken by espeak-ng and resampled by sox; music on
# hold is synthesised by sox. Needs: espeak-ng, sox.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p zh en

say() { # file language text
  local tmp
  tmp=$(mktemp --suffix=.wav)
  espeak-ng -v "$2" -s 165 -w "$tmp" "$3"
  sox -q "$tmp" -r 8000 -c 1 -b 16 "$4/$1" norm -3
  rm -f "$tmp"
}

while IFS='|' read -r file zh en; do
  [ -z "$file" ] && continue
  say "$file" cmn "$zh" zh
  say "$file" en-us "$en" en
done <<'TEXTS'
welcome.wav|欢迎致电中国电信一零零零零。普通话请按一，For English press two.|Welcome to the ten thousand hotline. For Mandarin press one, for English press two.
main_menu.wav|话费查询请按一，密码服务请按二，故障申告请按三，工单进度请按四，投诉请按五，人工服务请按零。|For billing press one, passwords two, fault reports three, order progress four, complaints five, or zero for an agent.
no_input.wav|对不起，没有听到您的按键。|Sorry, I did not hear a key.
invalid_key.wav|对不起，您的输入有误。|Sorry, that is not a valid choice.
anything_else.wav|返回主菜单请按一，人工服务请按零，结束请按二。|For the main menu press one, for an agent zero, or two to finish.
goodbye.wav|感谢您的来电，再见。|Thank you for calling. Goodbye.
blocked.wav|对不起，您的号码暂时无法使用本服务。|Sorry, this service is not available to your number.
vip_welcome.wav|尊敬的贵宾，正在为您转接专属客服。|Dear valued customer, connecting you to your personal service team.
enter_account.wav|请输入您的账号，以井号键结束。|Please enter your account number, then the hash key.
account_invalid.wav|账号位数不正确，请重新输入。|That account number has the wrong length. Please try again.
enter_password.wav|请输入六位服务密码，以井号键结束。|Please enter your six digit service password, then the hash key.
password_length.wav|密码应为六位数字。|The password has six digits.
password_wrong.wav|密码错误，请重新输入。|Wrong password. Please try again.
password_locked.wav|密码多次错误，正在为您转接人工服务。|Too many wrong passwords. Connecting you to an agent.
system_busy.wav|系统繁忙，请稍后再试。|The system is busy. Please try again later.
callback_unavailable.wav|对不起，无法为您回拨，请继续等候。|Sorry, we cannot call you back on this line. Please hold.
fee_menu.wav|重听请按一，人工服务请按九，返回请按零。|To hear it again press one, for an agent nine, or zero to go back.
password_menu.wav|重置服务密码请按一，人工服务请按零。|To reset your password press one, for an agent press zero.
password_sms_sent.wav|新密码已通过短信发送到您的手机。|Your new password has been sent to your phone by text message.
password_reset_failed.wav|密码重置失败，正在为您转接人工服务。|The password could not be reset. Connecting you to an agent.
fault_menu.wav|电话无拨号音请按一，宽带网速慢请按二，手机无信号请按三，人工服务请按零。|No dial tone press one, slow internet two, no mobile signal three, or zero for an agent.
enter_order_number.wav|请输入工单号，以井号键结束。|Please enter the order number, then the hash key.
order_number_invalid.wav|工单号位数不正确。|That order number has the wrong length.
order_not_found.wav|对不起，没有找到该工单。|Sorry, that order was not found.
complaint_intro.wav|请在提示音后说出您的投诉内容，按井号键结束。|Please describe your complaint after the tone, and press hash when you are done.
complaint_agent_offer.wav|需要人工服务请按一，结束请按二。|For an agent press one, to finish press two.
after_hours.wav|您好，现在是非工作时间。|Hello, our agents are not available at this time.
after_hours_menu.wav|故障申告请按一，留言请按二。|To report a fault press one, to leave a message press two.
voicemail_intro.wav|座席忙，请在提示音后留言，我们会尽快回复。|All agents are busy. Please leave a message after the tone and we will call you back.
voicemail_saved.wav|您的留言已保存，谢谢。|Your message has been saved. Thank you.
self_service_menu.wav|话费查询请按一，工单进度请按二。|For billing press one, for order progress press two.
reminder_menu.wav|查询话费请按一，人工服务请按零。|To check your bill press one, for an agent press zero.
campaign_drop.wav|您好，这里是中国电信一零零零零，稍后将再次与您联系。|Hello, this is the ten thousand hotline. We will call you again later.
TEXTS

# Queue announcements (the ACD's position and estimated-wait prompts):
# queue_position_N.wav for N = 1..20 and queue_wait_Mm.wav for M = 1..30 minutes.
queue_prompts() {
  local n m
  for n in $(seq 1 20); do
    say "queue_position_$n.wav" cmn "您现在排在第${n}位。" zh
    say "queue_position_$n.wav" en-us "You are number $n in the queue." en
  done
  for m in $(seq 1 30); do
    say "queue_wait_${m}m.wav" cmn "预计等待时间约${m}分钟。" zh
    if [ "$m" = 1 ]; then
      say "queue_wait_${m}m.wav" en-us "Your estimated wait is one minute." en
    else
      say "queue_wait_${m}m.wav" en-us "Your estimated wait is $m minutes." en
    fi
  done
}
queue_prompts

# Music on hold: a slow arpeggio, 20 s, looped by the runtime.
sox -q -n -r 8000 -c 1 -b 16 hold_music.wav synth 0.5 pluck C4 synth 0.5 pluck E4 synth 0.5 pluck G4 synth 0.5 pluck C5 \
  repeat 9 fade 0 20 0.5 norm -12 2>/dev/null || sox -q -n -r 8000 -c 1 -b 16 hold_music.wav synth 20 sine 440 tremolo 2 60 norm -15
sox -q -n -r 8000 -c 1 -b 16 vip_hold_music.wav synth 20 pluck A3 pluck C4 pluck E4 tremolo 1 40 norm -14 fade 0 20 1
