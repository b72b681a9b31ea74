# Writes the e2e test's input folder (committed): Chinese documents in UTF-8, one in GBK, a PNG renamed .txt
# (binary, must be skipped) and an empty file. Run: python3 tests/e2e/support/make-docs.py
import os, struct, zlib
here = os.path.join(os.path.dirname(__file__), 'docs')
os.makedirs(os.path.join(here, '政策'), exist_ok=True)
topics = {
  '燃气管理.txt': ['城市燃气管理条例规定，任何单位不得擅自改动市政燃气设施。', '需要改动燃气设施的，应当向燃气主管部门提出申请，经批准后方可施工。', '燃气用户应当安全用气，定期检查软管和阀门。', '发现燃气泄漏时，应当立即关闭阀门，打开门窗通风，并拨打抢修电话。'],
  '供水服务.md': ['# 供水服务指南', '居民用户申请新装水表，需要携带身份证和房产证明到营业厅办理。', '水费按月结算，逾期未缴的将收取滞纳金。', '停水检修应当提前二十四小时通知用户，紧急抢修除外。'],
  '垃圾分类.txt': ['生活垃圾分为可回收物、有害垃圾、厨余垃圾和其他垃圾四类。', '废电池、过期药品属于有害垃圾，应当投放到红色收集容器。', '厨余垃圾应当沥干水分后投放，不得混入塑料袋。', '违反分类投放规定的个人，由城管部门责令改正，可处以罚款。'],
  '政策/住房公积金.txt': ['职工缴存住房公积金满六个月，可以申请公积金贷款。', '购买首套自住住房的，贷款最高额度为六十万元。', '提取公积金用于支付房租的，每年可以提取一次。', '离职后公积金账户可以封存，也可以转移到新单位。'],
  '政策/社保办理.txt': ['新入职员工应当在三十日内由单位办理社会保险登记。', '养老保险累计缴费满十五年，达到退休年龄后可以按月领取养老金。', '医疗保险报销需要在定点医院就医，并持社保卡结算。', '失业人员可以在户籍所在地申领失业保险金。'],
  '交通出行.txt': ['公交卡可以在地铁站和便利店充值。', '老年人凭老年证可以免费乘坐公交车。', '机动车违章停车的，交警部门可以处以罚款并拖移车辆。', '共享单车应当停放在划定的停车区域内。'],
  '图书馆.txt': ['市图书馆每周一闭馆，其余时间九点至二十一点开放。', '读者凭身份证可以免费办理借书证。', '每张借书证最多可以借阅十册图书，借期三十天。', '逾期归还图书的，每册每天收取滞纳费。'],
}
for name, sents in topics.items():
  text = '\n'.join(sents) + '\n'
  with open(os.path.join(here, name), 'w', encoding='utf-8') as f: f.write(text)
gbk = ['户籍办理须知', '新生儿落户应当在出生后一个月内到派出所办理。', '办理户口迁移需要提供准迁证和身份证。', '身份证丢失的，可以到户籍所在地派出所补办，补办需要二十个工作日。', '临时身份证有效期为三个月。']
with open(os.path.join(here, '政策/户籍办理-gbk.txt'), 'wb') as f: f.write(('\r\n'.join(gbk) + '\r\n').encode('gbk'))
def png(w, h):
  def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
  rows = b''.join(b'\x00' + b''.join(bytes([(x * 40) % 256, (y * 60) % 256, 128]) for x in range(w)) for y in range(h))
  return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b'')
with open(os.path.join(here, '照片.txt'), 'wb') as f: f.write(png(8, 8))
open(os.path.join(here, '空文件.txt'), 'wb').close()
